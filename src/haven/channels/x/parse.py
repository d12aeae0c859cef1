"""Parsing X API v2 payloads: split pages into raw events, and raw events into InboundPosts.

A stored event is a small JSON envelope whose ``format`` names its shape: ``x.v2.tweet`` (a tweet
and its author, from polling or the stream) and ``x.v2.dm`` (a DM event and its sender). Webhook
deliveries keep their v1.1 shapes (see ``parse_v1``); ``events.parse_stored_event`` dispatches.

Everything here treats its input as hostile: unknown fields are ignored, wrong types and oversized
values are refused with a reason, and nothing raises anything but ``MalformedPayload``. The author's
audience (followers, verified) and the post's language are hints for triage, not structure: junk
there is read as "not said" (or capped), never a reason to refuse the post.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from dataclasses import dataclass
from typing import Annotated, Any, Literal, TypeVar

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
)

from haven.channels.base import Author, InboundPost, Trigger
from haven.models import Visibility

SnowflakeId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")]
#: note_tweet lets a post run to 25,000 characters; anything longer is not a post.
MAX_TEXT = 25_000
RAW_FORMAT = "x.v2.tweet"
DM_FORMAT = "x.v2.dm"
#: X allows 10,000 characters in a DM.
MAX_DM_TEXT = 10_000
#: More followers than any account has: a larger count is capped to this rather than believed.
MAX_FOLLOWERS = 10**10
_LANG = re.compile(r"[a-z]{2,3}(?:-[A-Za-z]{2,4})?")
#: X's ``lang`` codes that name no language: undetermined, and posts of only mentions (``qam``),
#: cashtags (``qct``), hashtags (``qht``), media (``qme``), very short text (``qst``) or links (``zxx``).
NO_LANGUAGE = frozenset({"und", "qam", "qct", "qht", "qme", "qst", "zxx"})


_M = TypeVar("_M", bound=BaseModel)


class MalformedPayload(ValueError):
    """The payload is not a usable X post; the reason is safe to log (it holds no content)."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


def lenient_count(value: Any) -> int:
    """A follower count as X sent it: junk (not a number, negative, NaN) is 0, absurd ones are capped."""
    if isinstance(value, bool):
        return 0
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and math.isfinite(value):
        count = int(value)
    else:
        return 0
    return min(max(count, 0), MAX_FOLLOWERS)


def lenient_flag(value: Any) -> bool:
    """Only a JSON ``true`` is true: ``"true"``, ``1`` or an object do not earn a badge."""
    return value is True


def lenient_lang(value: Any) -> str | None:
    """X's language code for a post, or None when it is missing, names no language, or is junk."""
    if not isinstance(value, str) or value in NO_LANGUAGE or _LANG.fullmatch(value) is None:
        return None
    return value


def _object(value: Any) -> Any:
    return value if isinstance(value, dict) else {}


FollowerCount = Annotated[int, BeforeValidator(lenient_count)]
Badge = Annotated[bool, BeforeValidator(lenient_flag)]
LangCode = Annotated[str | None, BeforeValidator(lenient_lang)]


class XPublicMetrics(_Lenient):
    followers_count: FollowerCount = 0


class XUser(_Lenient):
    id: SnowflakeId
    username: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    verified: Badge = False
    #: Anything but an object reads as no metrics.
    public_metrics: Annotated[XPublicMetrics, BeforeValidator(_object)] = Field(
        default_factory=XPublicMetrics
    )


class ReferencedTweet(_Lenient):
    type: Literal["replied_to", "quoted", "retweeted"]
    id: SnowflakeId


class Mention(_Lenient):
    id: SnowflakeId | None = None
    username: str = ""


class TweetEntities(_Lenient):
    mentions: list[Mention] = Field(default_factory=list, max_length=100)


class XTweet(_Lenient):
    id: SnowflakeId
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)]
    author_id: SnowflakeId
    #: X always sends a zone (``…Z``); a time without one is refused rather than guessed.
    created_at: AwareDatetime
    conversation_id: SnowflakeId | None = None
    in_reply_to_user_id: SnowflakeId | None = None
    referenced_tweets: list[ReferencedTweet] = Field(default_factory=list, max_length=10)
    entities: TweetEntities = Field(default_factory=TweetEntities)
    lang: LangCode = None


class XDirectMessage(_Lenient):
    id: SnowflakeId
    event_type: str
    text: Annotated[str, StringConstraints(max_length=MAX_DM_TEXT)] = ""
    sender_id: SnowflakeId
    dm_conversation_id: Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}(-[0-9]{1,19})?$")]
    created_at: AwareDatetime


@dataclass(frozen=True, slots=True)
class RawEvent:
    """One item of a page, ready to be stored as it came (``external_id`` dedupes it)."""

    external_id: str
    payload: str
    error: str | None = None


@dataclass(frozen=True, slots=True)
class Page:
    events: list[RawEvent]
    newest_id: str | None
    next_token: str | None


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _split(body: dict[str, Any], *, fmt: str, item_key: str, user_key: str) -> Page:
    meta = _dict(body.get("meta"))
    users = {
        u["id"]: u
        for u in _list(_dict(body.get("includes")).get("users"))
        if isinstance(u, dict) and isinstance(u.get("id"), str)
    }
    events: list[RawEvent] = []
    for item in _list(body.get("data")):
        item_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(item_id, str) and item_id.isdigit() and len(item_id) <= 19:
            events.append(RawEvent(item_id, envelope(fmt, item, users.get(item.get(user_key)), item_key)))
        else:
            events.append(invalid_event(item, "item has no valid id"))
    newest = meta.get("newest_id")
    token = meta.get("next_token")
    return Page(
        events=events,
        newest_id=newest if isinstance(newest, str) and newest.isdigit() else None,
        next_token=token if isinstance(token, str) and token else None,
    )


def envelope(fmt: str, item: dict[str, Any], user: dict[str, Any] | None, item_key: str) -> str:
    """The stored form of one item: its format, the item as X sent it, and the user X included."""
    user_field = "author" if item_key == "tweet" else "sender"
    return json.dumps({"format": fmt, item_key: item, user_field: user}, separators=(",", ":"))


def invalid_event(item: Any, reason: str) -> RawEvent:
    """Keep an unusable item, keyed by a hash of its content, so an operator can see it."""
    blob = json.dumps(item, sort_keys=True, default=str)
    digest = hashlib.sha256(blob.encode()).hexdigest()[:40]
    return RawEvent(f"invalid:{digest}", blob, error=reason)


def split_page(body: dict[str, Any]) -> Page:
    """Split a mentions or search page into one raw event per tweet, each with its author.

    Items without a usable id are kept too, keyed by a hash of their content and marked with an
    error, so that a malformed item is visible to an operator instead of silently dropped.
    """
    return _split(body, fmt=RAW_FORMAT, item_key="tweet", user_key="author_id")


def split_dm_page(body: dict[str, Any]) -> Page:
    """Split a ``dm_events`` page into one raw event per DM event, each with its sender."""
    return _split(body, fmt=DM_FORMAT, item_key="event", user_key="sender_id")


def load_envelope(payload: str) -> dict[str, Any]:
    try:
        loaded = json.loads(payload)
    except ValueError as exc:
        raise MalformedPayload("payload is not JSON") from exc
    if not isinstance(loaded, dict):
        raise MalformedPayload("payload is not a JSON object")
    return loaded


def _validated(model: type[_M], value: Any) -> _M:
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise MalformedPayload(f"invalid fields: {', '.join(fields)[:200]}") from exc


def _author(user: XUser | None, user_id: str) -> Author:
    if user is None:
        return Author(external_id=user_id, handle=user_id, display_name=user_id)
    return Author(
        external_id=user.id,
        handle=user.username,
        display_name=user.name or user.username,
        followers=user.public_metrics.followers_count,
        verified=user.verified,
    )


def tweet_trigger(*, brand_user_id: str, in_reply_to_user_id: str | None, mention_ids: set[str]) -> Trigger:
    if in_reply_to_user_id == brand_user_id:
        return Trigger.REPLY
    if brand_user_id in mention_ids:
        return Trigger.MENTION
    return Trigger.KEYWORD


def parse_tweet_event(payload: str, *, brand_user_id: str) -> InboundPost:
    """Turn a stored raw tweet event into an InboundPost, or raise MalformedPayload."""
    envelope = load_envelope(payload)
    if envelope.get("format") != RAW_FORMAT:
        raise MalformedPayload("payload is not a stored X tweet")
    return v2_tweet_post(envelope, brand_user_id=brand_user_id)


def v2_tweet_post(envelope: dict[str, Any], *, brand_user_id: str) -> InboundPost:
    tweet = _validated(XTweet, envelope.get("tweet"))
    author = _validated(XUser, envelope["author"]) if envelope.get("author") else None
    if author is not None and author.id != tweet.author_id:
        raise MalformedPayload("author does not match the tweet's author_id")

    replied_to = next((r.id for r in tweet.referenced_tweets if r.type == "replied_to"), None)
    ignore_reason = None
    if tweet.author_id == brand_user_id:
        ignore_reason = "the brand's own post"
    elif any(r.type == "retweeted" for r in tweet.referenced_tweets):
        ignore_reason = "a retweet"
    return InboundPost(
        external_id=tweet.id,
        thread_key=tweet.conversation_id or tweet.id,
        author=_author(author, tweet.author_id),
        text=tweet.text,
        created_at=tweet.created_at,
        visibility=Visibility.PUBLIC,
        trigger=tweet_trigger(
            brand_user_id=brand_user_id,
            in_reply_to_user_id=tweet.in_reply_to_user_id,
            mention_ids={m.id for m in tweet.entities.mentions if m.id},
        ),
        in_reply_to_external_id=replied_to,
        ignore_reason=ignore_reason,
        lang=tweet.lang,
    )


def dm_thread_key(dm_conversation_id: str) -> str:
    return f"dm:{dm_conversation_id}"


def v2_dm_post(envelope: dict[str, Any], *, brand_user_id: str) -> InboundPost:
    event = _validated(XDirectMessage, envelope.get("event"))
    sender = _validated(XUser, envelope["sender"]) if envelope.get("sender") else None
    if sender is not None and sender.id != event.sender_id:
        raise MalformedPayload("sender does not match the event's sender_id")
    ignore_reason = None
    if event.event_type != "MessageCreate":
        ignore_reason = f"a DM {event.event_type} event"
    elif event.sender_id == brand_user_id:
        ignore_reason = "the brand's own message"
    return InboundPost(
        external_id=event.id,
        thread_key=dm_thread_key(event.dm_conversation_id),
        author=_author(sender, event.sender_id),
        text=event.text,
        created_at=event.created_at,
        visibility=Visibility.PRIVATE,
        trigger=Trigger.DIRECT_MESSAGE,
        ignore_reason=ignore_reason,
    )
