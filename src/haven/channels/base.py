"""Channel-neutral types: what every channel turns its input into, and what delivery may raise."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from haven.models import Visibility


@dataclass(frozen=True, slots=True)
class Author:
    external_id: str
    handle: str
    display_name: str
    #: The author's audience as the network reported it with the post (0 when it did not say).
    followers: int = 0
    #: Whether the network shows the author as verified (False when it did not say).
    verified: bool = False


class Trigger(enum.StrEnum):
    """Why a post reached Haven; each account says which of these may open a new conversation."""

    #: The post names the brand's handle.
    MENTION = "mention"
    #: The post answers one of the brand's own posts.
    REPLY = "reply"
    #: A keyword query (recent search or a stream rule) found the post; it does not address the brand.
    KEYWORD = "keyword"
    #: A direct message to the brand.
    DIRECT_MESSAGE = "dm"


@dataclass(frozen=True, slots=True)
class InboundPost:
    """One customer post or direct message, parsed and validated, ready for the pipeline.

    ``thread_key`` is the network's thread (X: ``conversation_id`` for tweets, ``dm:<dm conversation
    id>`` for DMs). A private message joins the author's open conversation when there is one, so a
    customer's tweets and DMs read as one timeline.
    """

    external_id: str
    thread_key: str
    author: Author
    text: str
    created_at: datetime
    visibility: Visibility
    trigger: Trigger
    in_reply_to_external_id: str | None = None
    #: Why the pipeline should store nothing for this post (the brand's own echo, a retweet …).
    ignore_reason: str | None = None
    #: The network gave no thread id (X v1.1 webhooks): ``thread_key`` is the parent's id, and the
    #: pipeline puts the post in the thread of the post it answers when Haven has that one.
    thread_from_parent: bool = False
    #: The network's language code for the post (BCP 47 such as ``en`` or ``pt-BR``); None when it
    #: gave none, an undetermined one, or something that is not a language code.
    lang: str | None = None


@dataclass(frozen=True, slots=True)
class Delivered:
    external_id: str
    in_reply_to_external_id: str | None
    #: The network said the account's window is now used up: hold its other messages until then.
    pause_account_until: datetime | None = None


class DeliveryError(Exception):
    """Delivery failed. ``terminal`` failures are not retried; the others are, after ``retry_at``.

    ``uncertain`` means the message may have reached the network all the same (a timeout, a lost
    connection), so the next attempt must look before it sends.
    """

    def __init__(
        self,
        reason: str,
        *,
        terminal: bool,
        retry_at: datetime | None = None,
        uncertain: bool = False,
        pause_account: bool = False,
        usage_capped: bool = False,
    ) -> None:
        super().__init__(reason)
        self.reason = reason
        self.terminal = terminal
        self.retry_at = retry_at
        self.uncertain = uncertain
        #: Every message of the account must wait until ``retry_at`` (a rate limit or usage cap).
        self.pause_account = pause_account
        #: The network's usage cap is reached: sending stops and supervisors are alerted.
        self.usage_capped = usage_capped


class VisibilityRefused(DeliveryError):
    """The path cannot honour the message's visibility; never retried, never downgraded."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason, terminal=True)
