"""Account Activity API webhooks: the CRC answer, delivery signatures, and splitting a delivery.

X calls ``GET <url>?crc_token=…`` to prove Haven holds the app's consumer secret, and signs every
delivery (``POST <url>``) with HMAC-SHA256 over the raw body bytes, keyed by the same secret
(contract §7). A delivery names the subscribed account (``for_user_id``) and carries one or more
event arrays in v1.1 shapes; conversation material (tweets and message_create DMs) is stored as raw
events in the formats of ``parse_v1``, the rest is counted and, for deletions and revocations,
reported so that the route can log it — never stored, never with any text.

Everything here treats the body as hostile: wrong types, oversized input and junk items are refused
or marked with a reason that holds no content, and nothing raises anything but ``MalformedPayload``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from dataclasses import dataclass, field
from typing import Any

from haven.channels.x.parse import MalformedPayload, RawEvent, invalid_event
from haven.channels.x.parse_v1 import V1_DM_FORMAT, V1_TWEET_FORMAT

#: The header that carries a delivery's signature.
SIGNATURE_HEADER = "x-twitter-webhooks-signature"
#: A delivery is a handful of events, each a few kilobytes; 1 MiB leaves room and bounds the work.
MAX_DELIVERY_BYTES = 1_048_576
#: Items per event array; X sends a few at a time.
MAX_ITEMS = 500
#: A CRC token is a short random string; anything long is not one.
MAX_CRC_TOKEN = 512

_SNOWFLAKE = re.compile(r"^[0-9]{1,19}$")
_APP_ID = re.compile(r"^[0-9a-f]{16}$")
#: Keys of a delivery that describe it rather than carry events.
_METADATA = frozenset({"for_user_id", "users", "apps", "user_has_blocked", "is_blocked_by", "source"})


class DeliveryTooLarge(MalformedPayload):
    """The body is over ``MAX_DELIVERY_BYTES``."""


def app_id(consumer_key: str) -> str:
    """The public name of an X app in Haven's webhook URLs (``/hooks/x/<app_id>``).

    The first 16 hex characters of SHA-256 of the consumer key: stable, not secret, and it reveals
    nothing about the key. The one place this is computed.
    """
    return hashlib.sha256(consumer_key.encode()).hexdigest()[:16]


def is_app_id(value: str) -> bool:
    return _APP_ID.fullmatch(value) is not None


def _signature(consumer_secret: str, message: bytes) -> str:
    digest = hmac.new(consumer_secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


def crc_response(consumer_secret: str, crc_token: str) -> str:
    """The ``response_token`` that answers X's challenge-response check."""
    return _signature(consumer_secret, crc_token.encode())


def sign(consumer_secret: str, raw_body: bytes) -> str:
    """The signature header X sends with ``raw_body`` (for tests and tools)."""
    return _signature(consumer_secret, raw_body)


def verify_signature(consumer_secret: str, raw_body: bytes, header: str | None) -> bool:
    """Whether ``header`` is X's signature of exactly these bytes, compared in constant time."""
    if not header:
        return False
    expected = _signature(consumer_secret, raw_body).encode()
    return hmac.compare_digest(expected, header.encode("utf-8", "replace"))


@dataclass(frozen=True, slots=True)
class Delivery:
    """One webhook delivery, split: what to store, and what to report without storing."""

    #: The subscribed account the delivery is for.
    for_user_id: str
    #: Tweets and message_create DMs, one raw event each (junk items marked with an error).
    events: list[RawEvent] = field(default_factory=list)
    #: Ids of tweets their authors deleted (``tweet_delete_events``).
    deleted_tweet_ids: list[str] = field(default_factory=list)
    #: The user who revoked the app's access (``user_event.revoke``), if this delivery says so.
    revoked_by: str | None = None
    #: Items not stored by design, counted per kind (``favorite_events``, ``direct_message_events:…``).
    ignored: dict[str, int] = field(default_factory=dict)


def _safe_name(name: str) -> str:
    """A key or type X sent, fit for a log line (they name kinds of event, never content)."""
    return re.sub(r"[^A-Za-z0-9_.:-]", "?", name[:60])


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _decode(body: bytes) -> dict[str, Any]:
    if len(body) > MAX_DELIVERY_BYTES:
        raise DeliveryTooLarge(f"delivery is larger than {MAX_DELIVERY_BYTES} bytes")
    try:
        decoded = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        raise MalformedPayload("delivery is not JSON") from exc
    if not isinstance(decoded, dict):
        raise MalformedPayload("delivery is not a JSON object")
    return decoded


def _snowflake(value: Any) -> str | None:
    return value if isinstance(value, str) and _SNOWFLAKE.fullmatch(value) else None


def _items(body: dict[str, Any], key: str) -> list[Any]:
    value = body.get(key)
    if value is None:
        return []
    if not isinstance(value, list):
        raise MalformedPayload(f"{key} is not a list")
    if len(value) > MAX_ITEMS:
        raise MalformedPayload(f"{key} has more than {MAX_ITEMS} items")
    return value


def _envelope(fmt: str, for_user_id: str, **parts: Any) -> str:
    return json.dumps({"format": fmt, "for_user_id": for_user_id, **parts}, separators=(",", ":"))


def _revoked_by(body: dict[str, Any]) -> str | None:
    """The user of a ``user_event.revoke``, or None (no revocation, or one in a shape not known)."""
    user_event = body.get("user_event")
    revoke = user_event.get("revoke") if isinstance(user_event, dict) else None
    source = revoke.get("source") if isinstance(revoke, dict) else None
    return _snowflake(source.get("user_id")) if isinstance(source, dict) else None


def split_delivery(body: bytes) -> Delivery:
    """Split a delivery's raw body into raw events to store, and notices to log.

    The external id of a tweet is its ``id_str`` (the integer ``id`` loses precision in JSON), and
    of a DM its event ``id``, which equals the v2 dm_event id: a post that also arrives by polling
    or the stream is stored once. An item without a usable id is kept, marked, for an operator.
    """
    decoded = _decode(body)
    revoked_by = _revoked_by(decoded)
    for_user_id = _snowflake(decoded.get("for_user_id", revoked_by))
    if for_user_id is None:
        raise MalformedPayload("for_user_id is missing or not an id")

    events: list[RawEvent] = []
    for item in _items(decoded, "tweet_create_events"):
        tweet_id = _snowflake(item.get("id_str")) if isinstance(item, dict) else None
        if tweet_id is None:
            events.append(invalid_event(item, "tweet has no valid id_str"))
        else:
            events.append(RawEvent(tweet_id, _envelope(V1_TWEET_FORMAT, for_user_id, tweet=item)))

    users = decoded.get("users")
    users = users if isinstance(users, dict) else {}
    ignored: dict[str, int] = {}
    for item in _items(decoded, "direct_message_events"):
        kind = item.get("type") if isinstance(item, dict) else None
        if isinstance(kind, str) and kind != "message_create":
            name = f"direct_message_events:{_safe_name(kind)}"
            ignored[name] = ignored.get(name, 0) + 1
            continue
        event_id = _snowflake(item.get("id")) if isinstance(item, dict) else None
        if event_id is None or not isinstance(kind, str):
            events.append(invalid_event(item, "direct message event has no valid id or type"))
            continue
        message_create = item.get("message_create")
        sender_id = message_create.get("sender_id") if isinstance(message_create, dict) else None
        sender = users.get(sender_id) if isinstance(sender_id, str) else None
        events.append(
            RawEvent(
                event_id,
                _envelope(V1_DM_FORMAT, for_user_id, event=item, sender=sender),
            )
        )

    deleted: list[str] = []
    for item in _items(decoded, "tweet_delete_events"):
        status = item.get("status") if isinstance(item, dict) else None
        tweet_id = status.get("id") if isinstance(status, dict) else None
        if _snowflake(tweet_id):
            deleted.append(str(tweet_id))
        else:
            ignored["tweet_delete_events:invalid"] = ignored.get("tweet_delete_events:invalid", 0) + 1

    handled = {"tweet_create_events", "direct_message_events", "tweet_delete_events"}
    for key, value in decoded.items():
        if key in handled or key in _METADATA or (key == "user_event" and revoked_by):
            continue
        # favorite, follow, block, mute, typing and read events, and anything X adds later.
        ignored[_safe_name(key)] = len(value) if isinstance(value, list) else 1
    return Delivery(for_user_id, events, deleted, revoked_by, ignored)
