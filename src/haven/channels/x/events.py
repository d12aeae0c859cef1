"""Turning any stored X event into an InboundPost, whatever path it came by."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from haven.channels.base import InboundPost
from haven.channels.x.parse import (
    DM_FORMAT,
    RAW_FORMAT,
    MalformedPayload,
    load_envelope,
    v2_dm_post,
    v2_tweet_post,
)
from haven.channels.x.parse_v1 import V1_DM_FORMAT, V1_TWEET_FORMAT, v1_dm_post, v1_tweet_post

#: Stored format → parser. Each parser takes the decoded envelope and ``brand_user_id``.
PARSERS: dict[str, Callable[..., InboundPost]] = {
    RAW_FORMAT: v2_tweet_post,
    DM_FORMAT: v2_dm_post,
    V1_TWEET_FORMAT: v1_tweet_post,
    V1_DM_FORMAT: v1_dm_post,
}


def parse_stored_event(payload: str, *, brand_user_id: str) -> InboundPost:
    """Parse a stored raw event, or raise MalformedPayload (never anything else)."""
    envelope: dict[str, Any] = load_envelope(payload)
    parser = PARSERS.get(str(envelope.get("format")))
    if parser is None:
        raise MalformedPayload("payload is not a stored X event")
    return parser(envelope, brand_user_id=brand_user_id)
