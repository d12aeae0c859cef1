"""Counting what an X client spends: requests, and the resources X bills (posts and users read,
posts and DMs created).

The meter only counts in memory; the workers move its counts into the database every loop
(``haven.usage.service.flush``), so a crash loses at most one loop's worth of an estimate.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

POST_READ = "post.read"
USER_READ = "user.read"
DM_READ = "dm.read"
POST_CREATE = "post.create"
#: X bills a post that carries a link far more than a plain one.
POST_CREATE_WITH_LINK = "post.create.link"
DM_CREATE = "dm.create"
OPERATIONS = (POST_READ, USER_READ, DM_READ, POST_CREATE, POST_CREATE_WITH_LINK, DM_CREATE)

#: A scheme URL, or a bare host name X would turn into a t.co link (``bank.example/help``). It errs
#: towards "link": an estimate of spend should not come out low.
_LINK = re.compile(r"https?://\S|\b(?:[a-z0-9-]+\.)+[a-z]{2,}(?:/\S*)?\b", re.IGNORECASE)


def has_link(text: str) -> bool:
    return _LINK.search(text) is not None


class UsageMeter:
    """Counts per operation since the last :meth:`drain`."""

    def __init__(self) -> None:
        self.requests: Counter[str] = Counter()
        self.resources: Counter[str] = Counter()

    def count_request(self, operation: str) -> None:
        self.requests[operation] += 1

    def count_resources(self, operation: str, body: dict[str, Any]) -> None:
        """Count what an answer delivered: one resource per created item, per item read, and (for
        reads) per user expanded in ``includes``."""
        data = body.get("data")
        if operation in (POST_CREATE, POST_CREATE_WITH_LINK, DM_CREATE, USER_READ):
            self.resources[operation] += 1 if data else 0
            return
        self.resources[operation] += len(data) if isinstance(data, list) else (1 if data else 0)
        includes = body.get("includes")
        users = includes.get("users") if isinstance(includes, dict) else None
        if isinstance(users, list) and users:
            self.resources[USER_READ] += len(users)

    def drain(self) -> dict[str, tuple[int, int]]:
        """``operation → (requests, resources)`` counted so far; the meter starts again from zero."""
        counts = {
            op: (self.requests[op], self.resources[op])
            for op in set(self.requests) | set(self.resources)
            if self.requests[op] or self.resources[op]
        }
        self.requests.clear()
        self.resources.clear()
        return counts
