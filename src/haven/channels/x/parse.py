"""Parsing X API v2 payloads: split pages into raw events, and raw events into InboundPosts.

Everything here treats its input as hostile: unknown fields are ignored, wrong types and oversized
values are refused with a reason, and nothing raises anything but ``MalformedPayload``.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Annotated, Any, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from haven.channels.base import Author, InboundPost
from haven.models import Visibility

SnowflakeId = Annotated[str, StringConstraints(pattern=r"^[0-9]{1,19}$")]
#: note_tweet lets a post run to 25,000 characters; anything longer is not a post.
MAX_TEXT = 25_000
RAW_FORMAT = "x.v2.tweet"


class MalformedPayload(ValueError):
    """The payload is not a usable X post; the reason is safe to log (it holds no content)."""


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class XUser(_Lenient):
    id: SnowflakeId
    username: Annotated[str, StringConstraints(min_length=1, max_length=50)]
    name: Annotated[str, StringConstraints(max_length=200)] = ""


class ReferencedTweet(_Lenient):
    type: Literal["replied_to", "quoted", "retweeted"]
    id: SnowflakeId


class XTweet(_Lenient):
    id: SnowflakeId
    text: Annotated[str, StringConstraints(max_length=MAX_TEXT)]
    author_id: SnowflakeId
    #: X always sends a zone (``…Z``); a time without one is refused rather than guessed.
    created_at: AwareDatetime
    conversation_id: SnowflakeId | None = None
    in_reply_to_user_id: SnowflakeId | None = None
    referenced_tweets: list[ReferencedTweet] = Field(default_factory=list, max_length=10)


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


def split_page(body: dict[str, Any]) -> Page:
    """Split a mentions or search page into one raw event per tweet, each with its author.

    Items without a usable id are kept too, keyed by a hash of their content and marked with an
    error, so that a malformed item is visible to an operator instead of silently dropped.
    """
    meta = _dict(body.get("meta"))
    users = {
        u["id"]: u
        for u in _list(_dict(body.get("includes")).get("users"))
        if isinstance(u, dict) and isinstance(u.get("id"), str)
    }
    events: list[RawEvent] = []
    for item in _list(body.get("data")):
        tweet_id = item.get("id") if isinstance(item, dict) else None
        if isinstance(tweet_id, str) and tweet_id.isdigit() and len(tweet_id) <= 19:
            author = users.get(item.get("author_id"))
            payload = {"format": RAW_FORMAT, "tweet": item, "author": author}
            events.append(RawEvent(tweet_id, json.dumps(payload, separators=(",", ":"))))
        else:
            blob = json.dumps(item, sort_keys=True, default=str)
            digest = hashlib.sha256(blob.encode()).hexdigest()[:40]
            events.append(RawEvent(f"invalid:{digest}", blob, error="item has no valid tweet id"))
    newest = meta.get("newest_id")
    token = meta.get("next_token")
    return Page(
        events=events,
        newest_id=newest if isinstance(newest, str) and newest.isdigit() else None,
        next_token=token if isinstance(token, str) and token else None,
    )


def parse_tweet_event(payload: str, *, brand_user_id: str) -> InboundPost:
    """Turn a stored raw tweet event into an InboundPost, or raise MalformedPayload."""
    try:
        envelope = json.loads(payload)
    except ValueError as exc:
        raise MalformedPayload("payload is not JSON") from exc
    if not isinstance(envelope, dict) or envelope.get("format") != RAW_FORMAT:
        raise MalformedPayload("payload is not a stored X tweet")
    try:
        tweet = XTweet.model_validate(envelope.get("tweet"))
        author = XUser.model_validate(envelope["author"]) if envelope.get("author") else None
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        raise MalformedPayload(f"invalid fields: {', '.join(fields)[:200]}") from exc
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
        author=Author(
            external_id=tweet.author_id,
            handle=author.username if author else tweet.author_id,
            display_name=(author.name or author.username) if author else tweet.author_id,
        ),
        text=tweet.text,
        created_at=tweet.created_at,
        visibility=Visibility.PUBLIC,
        in_reply_to_external_id=replied_to,
        ignore_reason=ignore_reason,
    )
