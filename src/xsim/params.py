"""Query-parameter parsing for the read endpoints, with X's 400 messages."""

from __future__ import annotations

import re
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime

from starlette.datastructures import QueryParams

from xsim.errors import invalid_parameter, invalid_request

TWEET_FIELDS = frozenset(
    {
        "article", "attachments", "author_id", "card_uri", "community_id",
        "context_annotations", "conversation_id", "created_at", "display_text_range",
        "edit_controls", "edit_history_tweet_ids", "entities", "geo", "id",
        "in_reply_to_user_id", "lang", "media_metadata", "non_public_metrics", "note_tweet",
        "organic_metrics", "possibly_sensitive", "promoted_metrics", "public_metrics",
        "referenced_tweets", "reply_settings", "scopes", "source", "text", "withheld",
    }
)  # fmt: skip
USER_FIELDS = frozenset(
    {
        "affiliation", "connection_status", "created_at", "description", "entities", "id",
        "location", "most_recent_tweet_id", "name", "pinned_tweet_id", "profile_banner_url",
        "profile_image_url", "protected", "public_metrics", "receives_your_dm",
        "subscription_type", "url", "username", "verified", "verified_type", "withheld",
    }
)  # fmt: skip
TWEET_EXPANSIONS = frozenset(
    {
        "article.cover_media", "article.media_entities", "attachments.media_keys",
        "attachments.media_source_tweet", "attachments.poll_ids", "author_id",
        "edit_history_tweet_ids", "entities.mentions.username", "geo.place_id",
        "in_reply_to_user_id", "entities.note.mentions.username", "referenced_tweets.id",
        "referenced_tweets.id.attachments.media_keys", "referenced_tweets.id.author_id",
    }
)  # fmt: skip
USER_EXPANSIONS = frozenset({"affiliation.user_id", "most_recent_tweet_id", "pinned_tweet_id"})
#: Accepted for compatibility; xsim has no media, places or polls to return.
OTHER_FIELD_PARAMS = ("media.fields", "place.fields", "poll.fields")
FIELD_PARAMS = ("expansions", "tweet.fields", "user.fields", *OTHER_FIELD_PARAMS)

_ID = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class Selection:
    """Which optional fields and expansions the caller asked for."""

    tweet_fields: frozenset[str] = frozenset()
    user_fields: frozenset[str] = frozenset()
    expansions: frozenset[str] = frozenset()


def reject_unknown(params: QueryParams, allowed: Collection[str]) -> None:
    unknown = [name for name in params if name not in allowed]
    if unknown:
        raise invalid_request(
            f"The query parameters [{','.join(unknown)}] is not one of [{','.join(allowed)}]",
            {name: [params[name]] for name in unknown},
        )


def csv_param(params: QueryParams, name: str, allowed: frozenset[str]) -> frozenset[str]:
    """A comma-separated parameter's values, each one of ``allowed``; empty when it is absent."""
    raw = params.get(name)
    if raw is None:
        return frozenset()
    values = raw.split(",")
    for value in values:
        if value not in allowed:
            raise invalid_parameter(
                name,
                raw,
                f"The `{name}` query parameter value [{value}] is not one of [{','.join(sorted(allowed))}]",
            )
    return frozenset(values)


def selection(params: QueryParams, expansions: frozenset[str]) -> Selection:
    return Selection(
        tweet_fields=csv_param(params, "tweet.fields", TWEET_FIELDS),
        user_fields=csv_param(params, "user.fields", USER_FIELDS),
        expansions=csv_param(params, "expansions", expansions),
    )


def check_id(name: str, value: str, *, kind: str = "path") -> str:
    if not _ID.fullmatch(value):
        raise invalid_parameter(
            name, value, f"The `{name}` {kind} parameter value [{value}] does not match ^[0-9]{{1,19}}$"
        )
    return value


def optional_id(params: QueryParams, name: str) -> str | None:
    value = params.get(name)
    return None if value is None else check_id(name, value, kind="query")


def int_in_range(params: QueryParams, name: str, low: int, high: int, default: int) -> int:
    raw = params.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,6}", raw) or not low <= int(raw) <= high:
        raise invalid_parameter(
            name, raw, f"The `{name}` query parameter value [{raw}] is not between {low} and {high}"
        )
    return int(raw)


def optional_time(params: QueryParams, name: str) -> datetime | None:
    """An RFC 3339 timestamp such as ``2024-01-15T10:30:00Z``."""
    raw = params.get(name)
    if raw is None:
        return None
    try:
        value = datetime.fromisoformat(raw)
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise invalid_parameter(
            name,
            raw,
            f"Invalid '{name}':'{raw}'. '{name}' must be a UTC timestamp like YYYY-MM-DDTHH:mm:ssZ",
        )
    return value.astimezone(UTC)
