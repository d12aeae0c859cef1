"""Fixed-window request counting per (endpoint, caller), as X does it.

A window opens at a caller's first request and lasts ``window_seconds``; X reports
its end as ``x-rate-limit-reset`` (epoch seconds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from xsim.auth import AuthKind
from xsim.config import RateLimits


class Endpoint(StrEnum):
    """Rate-limited endpoints; values name the ``RateLimits`` fields (``<value>_<auth kind>``)."""

    ME = "me"
    MENTIONS = "mentions"
    SEARCH = "search"
    TWEET_LOOKUP = "tweet_lookup"
    POST_TWEET = "post_tweet"
    DELETE_TWEET = "delete_tweet"
    STREAM_CONNECT = "stream_connect"
    STREAM_RULES_READ = "stream_rules_read"
    STREAM_RULES_WRITE = "stream_rules_write"
    DM_READ = "dm_read"
    DM_SEND = "dm_send"
    WEBHOOKS = "webhooks"
    ACCOUNT_ACTIVITY = "account_activity"


def limit_for(limits: RateLimits, endpoint: Endpoint, kind: AuthKind) -> int | None:
    """The configured limit, or None if this kind of caller may not use the endpoint."""
    value = getattr(limits, f"{endpoint.value}_{kind.value}", None)
    return value if isinstance(value, int) else None


@dataclass(frozen=True, slots=True)
class Quota:
    limit: int
    remaining: int
    reset: int
    exceeded: bool

    def headers(self) -> dict[str, str]:
        return {
            "x-rate-limit-limit": str(self.limit),
            "x-rate-limit-remaining": str(self.remaining),
            "x-rate-limit-reset": str(self.reset),
        }


@dataclass(slots=True)
class _Window:
    started: float
    count: int = 0


class RateLimiter:
    def __init__(self) -> None:
        self._windows: dict[tuple[str, str], _Window] = {}

    def hit(self, endpoint: Endpoint, caller: str, *, limit: int, window_seconds: int, now: float) -> Quota:
        """Count one request unless the window is used up; report the quota after it."""
        key = (endpoint.value, caller)
        window = self._windows.get(key)
        if window is None or now >= window.started + window_seconds:
            window = self._windows[key] = _Window(started=now)
        exceeded = window.count >= limit
        if not exceeded:
            window.count += 1
        return Quota(
            limit=limit,
            remaining=max(limit - window.count, 0),
            reset=math.ceil(window.started + window_seconds),
            exceeded=exceeded,
        )

    def reset(self) -> None:
        self._windows.clear()
