"""Delivering outbound messages to X, and finding out whether an earlier attempt already did.

There are two paths and each takes its own type: a :class:`PublicReply` can only become a tweet and
a :class:`PrivateMessage` can only become a DM. :func:`outbound_for` is the one place that turns a
stored message into either, by its visibility; both types re-check the visibility they were given,
so no caller can put a private message on the public path, by mistake or otherwise.
"""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx

from haven.channels.base import Delivered, DeliveryError, VisibilityRefused
from haven.channels.x.client import Created, XApiError, XClient
from haven.models import Visibility


@dataclass(frozen=True, slots=True)
class PublicReply:
    text: str
    thread_key: str
    #: The customer's tweet this answers; a reply with nothing to answer is not sent.
    in_reply_to: str | None
    brand_handle: str
    visibility: Visibility = Visibility.PUBLIC

    def __post_init__(self) -> None:
        if self.visibility is not Visibility.PUBLIC:
            raise VisibilityRefused(f"a {self.visibility.value} message cannot be posted as a tweet")


@dataclass(frozen=True, slots=True)
class PrivateMessage:
    text: str
    #: The customer's X user id: a DM goes to this one person and nowhere else.
    recipient_user_id: str
    brand_user_id: str
    visibility: Visibility = Visibility.PRIVATE

    def __post_init__(self) -> None:
        if self.visibility is not Visibility.PRIVATE:
            raise VisibilityRefused(f"a {self.visibility.value} message cannot be sent as a DM")


Outbound = PublicReply | PrivateMessage


def outbound_for(
    *,
    text: str,
    visibility: Visibility,
    thread_key: str,
    in_reply_to: str | None,
    recipient_user_id: str,
    brand_handle: str,
    brand_user_id: str,
) -> Outbound:
    """The delivery for a stored message: its visibility alone decides the path."""
    if visibility is Visibility.PUBLIC:
        return PublicReply(text, thread_key, in_reply_to, brand_handle)
    if visibility is Visibility.PRIVATE:
        return PrivateMessage(text, recipient_user_id, brand_user_id)
    raise VisibilityRefused(f"a {visibility.value} message never leaves Haven")


def _next_period(period: str) -> datetime:
    """The start of the next UTC day or month, when X lifts a usage cap."""
    now = datetime.now(UTC)
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    if period.lower() == "daily":
        return day + timedelta(days=1)
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _failure(exc: XApiError) -> DeliveryError:
    reason = f"X answered {exc.status} {exc.title}: {exc.detail}"[:500]
    if exc.is_usage_cap:
        return DeliveryError(
            reason, terminal=False, retry_at=_next_period(exc.period), pause_account=True, usage_capped=True
        )
    # A 429 means the whole account's window is used up: every message of the account waits.
    return DeliveryError(
        reason, terminal=exc.terminal, retry_at=exc.retry_at, pause_account=exc.status == 429
    )


async def deliver(client: XClient, outbound: Outbound) -> Delivered:
    """Send on the path the outbound's type names; errors become DeliveryErrors."""
    try:
        if isinstance(outbound, PublicReply):
            created, in_reply_to = await _post_reply(client, outbound), outbound.in_reply_to
        else:
            created, in_reply_to = await _send_dm(client, outbound), None
    except XApiError as exc:
        raise _failure(exc) from exc
    except httpx.ConnectError as exc:
        raise DeliveryError("could not connect to X", terminal=False) from exc
    except httpx.HTTPError as exc:
        # The request may have reached X before the answer was lost.
        raise DeliveryError(
            f"no answer from X ({type(exc).__name__})", terminal=False, uncertain=True
        ) from exc
    pause_until = created.rate_limit.exhausted_until if created.rate_limit else None
    return Delivered(created.id, in_reply_to, pause_account_until=pause_until)


async def _post_reply(client: XClient, reply: PublicReply) -> Created:
    if reply.visibility is not Visibility.PUBLIC:  # the type already refused it; never rely on one lock
        raise VisibilityRefused("only a public message may be posted as a tweet")
    if reply.in_reply_to is None:
        raise DeliveryError("there is no customer post in this conversation to reply to", terminal=True)
    return await client.create_tweet(reply.text, in_reply_to=reply.in_reply_to)


async def _send_dm(client: XClient, message: PrivateMessage) -> Created:
    if message.visibility is not Visibility.PRIVATE:
        raise VisibilityRefused("only a private message may be sent as a DM")
    return await client.send_dm(message.recipient_user_id, message.text)


def _replied_to(tweet: dict[str, object]) -> str | None:
    references = tweet.get("referenced_tweets")
    for reference in references if isinstance(references, list) else []:
        if isinstance(reference, dict) and reference.get("type") == "replied_to":
            return str(reference.get("id"))
    return None


async def find_delivered(
    client: XClient, outbound: Outbound, *, known_ids: Collection[str]
) -> Delivered | None:
    """Look on X for this very message, sent by an earlier attempt whose answer was lost.

    A reply: the brand's tweet in this thread answering the same customer tweet with the same text.
    A DM: the brand's DM to the same customer with the same text. Either must not already be recorded
    for another message (``known_ids``).
    """
    try:
        if isinstance(outbound, PublicReply):
            return await _find_reply(client, outbound, known_ids)
        return await _find_dm(client, outbound, known_ids)
    except (XApiError, httpx.HTTPError) as exc:
        raise DeliveryError(
            "could not check whether X already has the message", terminal=False, uncertain=True
        ) from exc


async def _find_reply(client: XClient, reply: PublicReply, known_ids: Collection[str]) -> Delivered | None:
    if reply.in_reply_to is None:
        return None
    body = await client.search_recent(f"from:{reply.brand_handle} conversation_id:{reply.thread_key}")
    data = body.get("data")
    for tweet in data if isinstance(data, list) else []:
        if not isinstance(tweet, dict) or str(tweet.get("id")) in known_ids:
            continue
        # X escapes &, < and > in tweet text.
        same_text = html.unescape(str(tweet.get("text"))) == reply.text
        if same_text and _replied_to(tweet) == reply.in_reply_to:
            return Delivered(external_id=str(tweet["id"]), in_reply_to_external_id=reply.in_reply_to)
    return None


async def _find_dm(client: XClient, message: PrivateMessage, known_ids: Collection[str]) -> Delivered | None:
    body = await client.dm_events(participant_id=message.recipient_user_id)
    data = body.get("data")
    for event in data if isinstance(data, list) else []:
        if not isinstance(event, dict) or str(event.get("id")) in known_ids:
            continue
        if event.get("sender_id") == message.brand_user_id and event.get("text") == message.text:
            return Delivered(external_id=str(event["id"]), in_reply_to_external_id=None)
    return None
