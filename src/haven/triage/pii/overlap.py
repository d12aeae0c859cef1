"""A set of non-overlapping spans that answers "does this overlap (or lie inside) one of them?" in
logarithmic time, so that a text with thousands of findings is not checked pair by pair."""

from __future__ import annotations

import bisect
from collections.abc import Iterator


class SpanSet:
    """Non-overlapping ``(start, end)`` spans (end exclusive), kept in order."""

    __slots__ = ("_ends", "_starts")

    def __init__(self) -> None:
        self._starts: list[int] = []
        self._ends: list[int] = []

    def _neighbours(self, start: int) -> tuple[int, int]:
        """The index of the last span starting at or before ``start``, and of the first after it."""
        after = bisect.bisect_right(self._starts, start)
        return after - 1, after

    def overlaps(self, start: int, end: int) -> bool:
        before, after = self._neighbours(start)
        return (before >= 0 and self._ends[before] > start) or (
            after < len(self._starts) and self._starts[after] < end
        )

    def covers(self, start: int, end: int) -> bool:
        """Whether one span contains all of ``start:end``."""
        before, _ = self._neighbours(start)
        return before >= 0 and self._ends[before] >= end

    def add(self, start: int, end: int) -> bool:
        """Add the span unless it overlaps one already in; whether it was added."""
        if self.overlaps(start, end):
            return False
        index = bisect.bisect_right(self._starts, start)
        self._starts.insert(index, start)
        self._ends.insert(index, end)
        return True

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self._starts, self._ends, strict=True)

    def __len__(self) -> int:
        return len(self._starts)
