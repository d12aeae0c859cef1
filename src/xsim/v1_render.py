"""Account Activity payloads: tweets, deletions and DMs in their v1.1 shapes (contract §7).

Ids appear both as numbers (``id``, which loses precision in JavaScript) and as strings
(``id_str``); times as ``"Mon May 19 14:01:46 +0000 2025"`` and as epoch-millisecond strings.
Entity ``indices`` are code-point offsets, ``[start, end)``.
"""

from __future__ import annotations

from datetime import datetime

from xsim.entities import Entities
from xsim.errors import JSON
from xsim.ids import EPOCH_MS, TIMESTAMP_SHIFT
from xsim.store import DmEvent, Store, Tweet, User

#: Tweets longer than this are sent ``truncated`` with the whole text in ``extended_tweet``.
LEGACY_TEXT_LENGTH = 140
DEFAULT_PROFILE_IMAGE = "https://abs.twimg.com/sticky/default_profile_images/default_profile_normal.png"

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def v1_time(moment: datetime) -> str:
    """``Mon May 19 14:01:46 +0000 2025`` (English names whatever the locale; UTC)."""
    return (
        f"{_DAYS[moment.weekday()]} {_MONTHS[moment.month - 1]} {moment.day:02d} "
        f"{moment.hour:02d}:{moment.minute:02d}:{moment.second:02d} +0000 {moment.year}"
    )


def snowflake_ms(snowflake: str) -> str:
    """The epoch-millisecond creation time of a snowflake, as a string (``timestamp_ms``)."""
    return str((int(snowflake) >> TIMESTAMP_SHIFT) + EPOCH_MS)


def epoch_ms(moment: float) -> str:
    return str(int(moment * 1000))


def _v1_counts(store: Store, user: User) -> JSON:
    """The v1.1 user counts; xsim has no follows, lists or likes, so those are 0."""
    return {
        "followers_count": user.followers_count,
        "friends_count": 0,
        "listed_count": 0,
        "favourites_count": 0,
        "statuses_count": store.tweet_count(user.id),
    }


def v1_user(store: Store, user: User) -> JSON:
    return {
        "id": int(user.id),
        "id_str": user.id,
        "name": user.name,
        "screen_name": user.username,
        "protected": False,
        "verified": user.verified,
        **_v1_counts(store, user),
        "created_at": v1_time(user.created_at),
        "profile_image_url_https": DEFAULT_PROFILE_IMAGE,
    }


def v1_entities(store: Store, entities: Entities, limit: int | None = None) -> JSON:
    """``hashtags``, ``urls``, ``symbols`` and ``user_mentions`` (of existing users) ending by ``limit``."""

    def inside(end: int) -> bool:
        return limit is None or end <= limit

    mentions = []
    for mention in entities.mentions:
        user = store.user(mention.user_id) if mention.user_id else None
        if user is not None and inside(mention.end):
            mentions.append(
                {
                    "screen_name": user.username,
                    "name": user.name,
                    "id": int(user.id),
                    "id_str": user.id,
                    "indices": [mention.start, mention.end],
                }
            )
    return {
        "hashtags": [
            {"text": h.tag, "indices": [h.start, h.end]} for h in entities.hashtags if inside(h.end)
        ],
        "urls": [
            {
                "url": u.url,
                "expanded_url": u.url,
                "display_url": u.url.split("://", 1)[1],
                "indices": [u.start, u.end],
            }
            for u in entities.urls
            if inside(u.end)
        ],
        "symbols": [{"text": c.tag, "indices": [c.start, c.end]} for c in entities.cashtags if inside(c.end)],
        "user_mentions": mentions,
    }


def v1_tweet(store: Store, tweet: Tweet, *, with_quoted: bool = True) -> JSON:
    """A tweet as the v1.1 ``tweet_create_events`` carry it."""
    author = store.user(tweet.author_id)
    replied_user = store.user(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id else None
    length = len(tweet.text)
    truncated = length > LEGACY_TEXT_LENGTH
    out: JSON = {
        "created_at": v1_time(tweet.created_at),
        "id": int(tweet.id),
        "id_str": tweet.id,
        "text": tweet.text[: LEGACY_TEXT_LENGTH - 1] + "…" if truncated else tweet.text,
        "source": "xsim",
        "truncated": truncated,
        "in_reply_to_status_id": int(tweet.in_reply_to_tweet_id) if tweet.in_reply_to_tweet_id else None,
        "in_reply_to_status_id_str": tweet.in_reply_to_tweet_id,
        "in_reply_to_user_id": int(tweet.in_reply_to_user_id) if tweet.in_reply_to_user_id else None,
        "in_reply_to_user_id_str": tweet.in_reply_to_user_id,
        "in_reply_to_screen_name": replied_user.username if replied_user else None,
        "user": v1_user(store, author) if author else {"id": int(tweet.author_id), "id_str": tweet.author_id},
        "is_quote_status": tweet.quoted_tweet_id is not None,
        "quote_count": 0,
        "reply_count": 0,
        "retweet_count": 0,
        "favorite_count": 0,
        "entities": v1_entities(store, tweet.entities, LEGACY_TEXT_LENGTH - 1 if truncated else None),
        "favorited": False,
        "retweeted": False,
        "lang": tweet.lang,
        "timestamp_ms": snowflake_ms(tweet.id),
    }
    if truncated:
        out["extended_tweet"] = {
            "full_text": tweet.text,
            "display_text_range": [0, length],
            "entities": v1_entities(store, tweet.entities),
        }
    if tweet.quoted_tweet_id:
        out["quoted_status_id"] = int(tweet.quoted_tweet_id)
        out["quoted_status_id_str"] = tweet.quoted_tweet_id
        quoted = store.live_tweet(tweet.quoted_tweet_id)
        if quoted is not None and with_quoted:
            out["quoted_status"] = v1_tweet(store, quoted, with_quoted=False)
    return out


def tweet_create_payload(store: Store, tweet: Tweet, for_user_id: str) -> JSON:
    return {"for_user_id": for_user_id, "tweet_create_events": [v1_tweet(store, tweet)]}


def tweet_delete_payload(tweet: Tweet, for_user_id: str, deleted_at: float) -> JSON:
    return {
        "for_user_id": for_user_id,
        "tweet_delete_events": [
            {"status": {"id": tweet.id, "user_id": tweet.author_id}, "timestamp_ms": epoch_ms(deleted_at)}
        ],
    }


def _dm_user(store: Store, user: User) -> JSON:
    return {
        "id": user.id,
        "created_timestamp": epoch_ms(user.created_at.timestamp()),
        "name": user.name,
        "screen_name": user.username,
        "protected": False,
        "verified": user.verified,
        **_v1_counts(store, user),
        "profile_image_url_https": DEFAULT_PROFILE_IMAGE,
    }


def direct_message_payload(
    store: Store, event: DmEvent, recipient_id: str, for_user_id: str, app_name: str = "xsim"
) -> JSON:
    """A 1:1 ``MessageCreate`` event as ``direct_message_events``, with the ``users`` (and ``apps``) maps."""
    message_data: JSON = {"text": event.text, "entities": v1_entities(store, event.entities)}
    if event.media_ids:
        media_id = event.media_ids[0]
        message_data["attachment"] = {
            "type": "media",
            "media": {"id": int(media_id), "id_str": media_id, "type": "photo"},
        }
    message_create: JSON = {
        "target": {"recipient_id": recipient_id},
        "sender_id": event.sender_id,
        "message_data": message_data,
    }
    if event.source_app_id:
        message_create["source_app_id"] = event.source_app_id
    payload: JSON = {
        "for_user_id": for_user_id,
        "direct_message_events": [
            {
                "type": "message_create",
                "id": event.id,
                "created_timestamp": snowflake_ms(event.id),
                "message_create": message_create,
            }
        ],
    }
    if event.source_app_id:
        payload["apps"] = {
            event.source_app_id: {"id": event.source_app_id, "name": app_name, "url": "https://xsim.invalid"}
        }
    users = {}
    for user_id in (event.sender_id, recipient_id):
        user = store.user(user_id)
        if user is not None:
            users[user_id] = _dm_user(store, user)
    payload["users"] = users
    return payload
