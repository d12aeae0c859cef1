"""Channel-neutral types: what every channel turns its input into, and what delivery may raise."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from haven.models import Visibility


@dataclass(frozen=True, slots=True)
class Author:
    external_id: str
    handle: str
    display_name: str


@dataclass(frozen=True, slots=True)
class InboundPost:
    """One customer post, parsed and validated, ready for the pipeline."""

    external_id: str
    thread_key: str
    author: Author
    text: str
    created_at: datetime
    visibility: Visibility
    in_reply_to_external_id: str | None = None
    #: Why the pipeline should store nothing for this post (the brand's own echo, a retweet …).
    ignore_reason: str | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    external_id: str
    in_reply_to_external_id: str | None


class DeliveryError(Exception):
    """Delivery failed. ``terminal`` failures are not retried; the others are, after ``retry_at``.

    ``uncertain`` means the message may have reached the network all the same (a timeout, a lost
    connection), so the next attempt must look before it sends.
    """

    def __init__(
        self, reason: str, *, terminal: bool, retry_at: datetime | None = None, uncertain: bool = False
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.terminal = terminal
        self.retry_at = retry_at
        self.uncertain = uncertain


class VisibilityRefused(DeliveryError):
    """The path cannot honour the message's visibility; never retried, never downgraded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, terminal=True)
