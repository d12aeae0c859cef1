"""Snowflake-style identifiers: a millisecond timestamp above a 22-bit sequence.

X ids are 64-bit snowflakes, so a larger id is a newer object and ``since_id`` /
``until_id`` can compare ids instead of dates. xsim keeps that property: ids are
strictly increasing even when the clock stalls or steps backwards.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime

#: Twitter's snowflake epoch (2010-11-04T01:42:54.657Z), in milliseconds.
EPOCH_MS = 1288834974657
#: Bits below the timestamp (10 worker bits + 12 sequence bits in the real layout).
TIMESTAMP_SHIFT = 22


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


class SnowflakeGenerator:
    """Issues strictly increasing snowflake ids as decimal strings."""

    def __init__(self, clock_ms: Callable[[], int] = _now_ms) -> None:
        self._clock_ms = clock_ms
        self._last = 0
        self._lock = threading.Lock()

    def next_id(self) -> str:
        """Return a new id, greater than every id this generator issued before."""
        with self._lock:
            candidate = max(self._clock_ms() - EPOCH_MS, 0) << TIMESTAMP_SHIFT
            self._last = max(candidate, self._last + 1)
            return str(self._last)


def snowflake_time(snowflake: str) -> datetime:
    """The UTC creation time encoded in a snowflake id."""
    millis = (int(snowflake) >> TIMESTAMP_SHIFT) + EPOCH_MS
    return datetime.fromtimestamp(millis / 1000, tz=UTC)
