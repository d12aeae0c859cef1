"""A sliding-window limiter for login attempts, per client address and per account.

It lives in the process; behind several web processes each counts on its own, which still bounds an
attacker to (processes × limit) guesses per window.
"""

from __future__ import annotations

import time
from collections import defaultdict, deque


class SlidingWindowLimiter:
    def __init__(self, limit: int, window_seconds: float) -> None:
        self._limit = limit
        self._window = window_seconds
        self._hits: defaultdict[str, deque[float]] = defaultdict(deque)

    def _prune(self, key: str, now: float) -> deque[float]:
        hits = self._hits[key]
        while hits and hits[0] <= now - self._window:
            hits.popleft()
        if not hits:
            del self._hits[key]
            return self._hits[key]
        return hits

    def allowed(self, *keys: str) -> bool:
        now = time.monotonic()
        return all(len(self._prune(key, now)) < self._limit for key in keys)

    def hit(self, *keys: str) -> None:
        now = time.monotonic()
        for key in keys:
            self._prune(key, now).append(now)

    def clear(self, key: str) -> None:
        self._hits.pop(key, None)
