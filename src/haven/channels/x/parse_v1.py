"""Parsing the v1.1 shapes of Account Activity webhook deliveries into InboundPosts.

``webhooks.split_delivery`` stores each item in an envelope: ``x.v1.tweet`` (a ``tweet_create_events``
item as X sent it, plus the delivery's ``for_user_id``) and ``x.v1.dm`` (a ``message_create`` item,
plus its sender from the delivery's ``users`` map). The parsers here produce exactly what the v2
parsers produce for the same post — the same external id, author, text, trigger, visibility and
ignore reason — so that a post seen by polling and by webhook lands the same way.

Threading. v1.1 tweets carry no ``conversation_id``, only ``in_reply_to_status_id_str``. A tweet that
answers nothing is the root of its conversation, so its thread key is its own id, exactly as in v2.
A reply gets its parent's id as a provisional thread key and ``thread_from_parent`` set; the inbound
pipeline (``inbound/threads.py``) then walks up the chain through what Haven already holds and puts
the reply in the conversation of the post it answers. When the chain leaves what Haven knows, the
highest known ancestor's id stands in for the conversation id.

As everywhere in ``channels/x``, input is hostile: nothing raises anything but ``MalformedPayload``,
and reasons name fields, never content.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, StringConstraints

from haven.channels.base import Author, InboundPost, Trigger
from haven.channels.x.parse import (
    MAX_DM_TEXT,
    MAX_TEXT,
    Badge,
    FollowerCount,
    LangCode,
    MalformedPayload,
    SnowflakeId,
    _Lenient,
    _validated,
    dm_thread_key,
    tweet_trigger,
)
from haven.models import Visibility

V1_TWEET_FORMAT = "x.v1.tweet"
V1_DM_FORMAT = "x.v1.dm"

_MONTHS = {
    name: number
    for number, name in enumerate(
        ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"), start=1
    )
}
_WEEKDAYS = frozenset({"Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"})
_V1_TIME = re.compile(
    r"^(?P<wd>[A-Z][a-z]{2}) (?P<mon>[A-Z][a-z]{2}) (?P<day>[0-9]{2}) "
    r"(?P<h>[0-9]{2}):(?P<m>[0-9]{2}):(?P<s>[0-9]{2}) (?P<sign>[+-])(?P<oh>[0-9]{2})(?P<om>[0-9]{2}) "
    r"(?P<year>[0-9]{4})$"
)


def parse_v1_time(value: Any) -> datetime:
    """``"Mon May 19 14:01:46 +0000 2025"`` → an aware UTC datetime, independent of the locale."""
    match = _V1_TIME.fullmatch(value) if isinstance(value, str) else None
    if match is None or match["wd"] not in _WEEKDAYS or match["mon"] not in _MONTHS:
        raise ValueError("not a v1.1 time")
    offset = timedelta(hours=int(match["oh"]), minutes=int(match["om"]))
    if offset >= timedelta(hours=24):
        raise ValueError("not a v1.1 time")
    zone = timezone(-offset if match["sign"] == "-" else offset)
    moment = datetime(
        int(match["year"]),
        _MONTHS[match["mon"]],
        int(match["day"]),
        int(match["h"]),
        int(match["m"]),
        int(match["s"]),
        tzinfo=zone,
    )
    return moment.astimezone(UTC)


def parse_epoch_ms(value: Any) -> datetime:
    """An epoch-milliseconds string (``created_timestamp``, ``timestamp_ms``) → an aware UTC datetime."""
    if not isinstance(value, str) or not value.isascii() or not value.isdigit() or len(value) > 15:
        raise ValueError("not an epoch-milliseconds string")
    millis = int(value)
    try:
        return datetime.fromtimestamp(millis // 1000, UTC) + timedelta(milliseconds=millis % 1000)
    except (OverflowError, OSError) as exc:
        raise ValueError("not an epoch-milliseconds string") from exc


V1Time = Annotated[datetime, BeforeValidator(parse_v1_time)]
EpochMs = Annotated[datetime, BeforeValidator(parse_epoch_ms)]


class V1User(_Lenient):
    id_str: SnowflakeId
    #: Always sent by X; without it the id stands in, as in v2 when the author is not included.
    screen_name: Annotated[str, StringConstraints(min_length=1, max_length=50)] | None = None
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    #: v1.1 has these at the top level of the user (v2 nests the count in ``public_metrics``).
    followers_count: FollowerCount = 0
    verified: Badge = False


class V1Mention(_Lenient):
    id_str: SnowflakeId | None = None


class V1Entities(_Lenient):
    user_mentions: list[V1Mention] = Field(default_factory=list, max_length=100)


class V1ExtendedTweet(_Lenient):
    full_text: Annotated[str, StringConstraints(max_length=MAX_TEXT)]
    entities: V1Entities | None = None


class V1Tweet(_Lenient):
    id_str: SnowflakeId
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)]
    created_at: V1Time
    timestamp_ms: str | None = None
    truncated: bool = False
    extended_tweet: V1ExtendedTweet | None = None
    in_reply_to_status_id_str: SnowflakeId | None = None
    in_reply_to_user_id_str: SnowflakeId | None = None
    user: V1User
    entities: V1Entities = Field(default_factory=V1Entities)
    #: Only its presence matters: a retweet is not conversation material.
    retweeted_status: dict[str, Any] | None = None
    lang: LangCode = None


class V1DmUser(_Lenient):
    """A user of a delivery's ``users`` map (here the id is a string named ``id``)."""

    id: SnowflakeId
    screen_name: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    name: Annotated[str, StringConstraints(max_length=200)] = ""
    followers_count: FollowerCount = 0
    verified: Badge = False


class V1Target(_Lenient):
    recipient_id: SnowflakeId


class V1MessageData(_Lenient):
    text: Annotated[str, StringConstraints(max_length=MAX_DM_TEXT)] = ""


class V1MessageCreate(_Lenient):
    target: V1Target
    sender_id: SnowflakeId
    message_data: V1MessageData = Field(default_factory=V1MessageData)


class V1DirectMessage(_Lenient):
    type: str
    id: SnowflakeId
    created_timestamp: EpochMs
    message_create: V1MessageCreate


def _check_account(envelope: dict[str, Any], brand_user_id: str) -> None:
    for_user_id = envelope.get("for_user_id")
    if for_user_id is not None and for_user_id != brand_user_id:
        raise MalformedPayload("the delivery was for another account")


def _created_at(tweet: V1Tweet) -> datetime:
    """``created_at`` has whole seconds; ``timestamp_ms`` adds the milliseconds when it agrees."""
    if tweet.timestamp_ms is not None:
        try:
            precise = parse_epoch_ms(tweet.timestamp_ms)
        except ValueError:
            return tweet.created_at
        if precise.replace(microsecond=0) == tweet.created_at:
            return precise
    return tweet.created_at


def v1_tweet_post(envelope: dict[str, Any], *, brand_user_id: str) -> InboundPost:
    """A stored ``x.v1.tweet`` → InboundPost, as ``parse.v2_tweet_post`` makes it for the same tweet."""
    _check_account(envelope, brand_user_id)
    tweet = _validated(V1Tweet, envelope.get("tweet"))
    text, entities = tweet.text, tweet.entities
    if tweet.truncated and tweet.extended_tweet is not None:
        text = tweet.extended_tweet.full_text
        entities = tweet.extended_tweet.entities or entities

    ignore_reason = None
    if tweet.user.id_str == brand_user_id:
        ignore_reason = "the brand's own post"
    elif tweet.retweeted_status is not None:
        ignore_reason = "a retweet"
    parent = tweet.in_reply_to_status_id_str
    return InboundPost(
        external_id=tweet.id_str,
        # A root's conversation is itself; a reply's is found from its parent (see the module doc).
        thread_key=parent or tweet.id_str,
        author=Author(
            external_id=tweet.user.id_str,
            handle=tweet.user.screen_name or tweet.user.id_str,
            display_name=tweet.user.name or tweet.user.screen_name or tweet.user.id_str,
            followers=tweet.user.followers_count,
            verified=tweet.user.verified,
        ),
        text=text,
        created_at=_created_at(tweet),
        visibility=Visibility.PUBLIC,
        trigger=tweet_trigger(
            brand_user_id=brand_user_id,
            in_reply_to_user_id=tweet.in_reply_to_user_id_str,
            mention_ids={m.id_str for m in entities.user_mentions if m.id_str},
        ),
        in_reply_to_external_id=parent,
        ignore_reason=ignore_reason,
        thread_from_parent=parent is not None,
        lang=tweet.lang,
    )


def v1_dm_post(envelope: dict[str, Any], *, brand_user_id: str) -> InboundPost:
    """A stored ``x.v1.dm`` → InboundPost, as ``parse.v2_dm_post`` makes it for the same message.

    The thread is the 1:1 DM conversation, whose v2 id is ``<smaller id>-<larger id>``.
    """
    _check_account(envelope, brand_user_id)
    event = _validated(V1DirectMessage, envelope.get("event"))
    sender = _validated(V1DmUser, envelope["sender"]) if envelope.get("sender") else None
    message = event.message_create
    if sender is not None and sender.id != message.sender_id:
        raise MalformedPayload("sender does not match the event's sender_id")
    recipient_id = message.target.recipient_id
    if brand_user_id not in (message.sender_id, recipient_id):
        raise MalformedPayload("the message is neither to nor from this account")
    ignore_reason = None
    if event.type != "message_create":
        ignore_reason = "a DM event other than message_create"
    elif message.sender_id == brand_user_id:
        ignore_reason = "the brand's own message"
    low, high = sorted((message.sender_id, recipient_id), key=int)
    return InboundPost(
        external_id=event.id,
        thread_key=dm_thread_key(f"{low}-{high}"),
        author=Author(
            external_id=message.sender_id,
            handle=sender.screen_name if sender else message.sender_id,
            display_name=(sender.name or sender.screen_name) if sender else message.sender_id,
            followers=sender.followers_count if sender else 0,
            verified=sender.verified if sender else False,
        ),
        text=message.message_data.text,
        created_at=event.created_timestamp,
        visibility=Visibility.PRIVATE,
        trigger=Trigger.DIRECT_MESSAGE,
        ignore_reason=ignore_reason,
    )
