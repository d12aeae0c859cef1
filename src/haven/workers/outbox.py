"""The outbox sender: claims one due delivery at a time, sends it, and records what happened.

A claim is an atomic conditional UPDATE that sets a lease token, so two workers — on PostgreSQL or on
one SQLite file — never hold the same row, and a worker whose lease expired cannot record an outcome.
Just before the request leaves, the row is marked ``uncertain``; only a definite answer from X clears
it. An attempt that finds the mark looks on X for the reply before posting, so a reply is never
posted twice, and never lost.
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from haven.alerts.service import USAGE_CAP, raise_alert
from haven.audit.service import record
from haven.channels.base import Delivered, DeliveryError
from haven.channels.x.account import XClientPool
from haven.channels.x.delivery import Outbound, deliver, find_delivered, outbound_for
from haven.config import Settings
from haven.db import Database, queue_event
from haven.kit.actor import SYSTEM
from haven.kit.clock import utcnow
from haven.models import (
    ChannelAccount,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    OutboxItem,
    OutboxStatus,
    Visibility,
)
from haven.realtime.events import conversation_changed

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class OutboxTiming:
    """The sender's two clocks (``HAVEN_OUTBOX_LEASE_SECONDS``, ``HAVEN_OUTBOX_LOOK_DELAY_SECONDS``)."""

    #: Longer than one attempt can take (a search and a post, 10 s timeout each); a crashed
    #: worker's claims are taken over after this.
    lease: timedelta = timedelta(seconds=60)
    #: After an attempt whose outcome is unknown, wait before looking: X's search index may lag.
    look_delay: timedelta = timedelta(seconds=30)

    @classmethod
    def from_settings(cls, settings: Settings) -> OutboxTiming:
        return cls(
            lease=timedelta(seconds=settings.outbox_lease_seconds),
            look_delay=timedelta(seconds=settings.outbox_look_delay_seconds),
        )


DEFAULT_TIMING = OutboxTiming()
#: How often a worker that keeps losing races for rows tries again before leaving them to the others.
_CLAIM_TRIES = 5


@dataclass(frozen=True, slots=True)
class _Claim:
    outbox_id: int
    token: str
    attempts: int
    look_first: bool


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 300))


async def _claim_next(database: Database, timing: OutboxTiming = DEFAULT_TIMING) -> _Claim | None:
    """Claim the oldest due delivery; a worker that loses a race for a row tries the next one."""
    for _ in range(_CLAIM_TRIES):
        claim, lost_race = await _try_claim(database, timing.lease)
        if not lost_race:
            return claim
    return None


async def _try_claim(database: Database, lease: timedelta) -> tuple[_Claim | None, bool]:
    """The claim (None when nothing is due), and whether another worker won the row first."""
    now = utcnow()
    token = secrets.token_hex(16)
    paused_accounts = select(ChannelAccount.id).where(ChannelAccount.send_paused_until > now)
    claimable = (
        OutboxItem.status == OutboxStatus.PENDING,
        OutboxItem.next_attempt_at <= now,
        or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
        # Each account is its own queue: one whose window or cap is used up holds only its own rows.
        OutboxItem.channel_account_id.not_in(paused_accounts),
    )
    async with database.unit_of_work() as session:
        candidate = await session.scalar(
            select(OutboxItem.id)
            .where(*claimable)
            .order_by(OutboxItem.id)
            .limit(1)
            .with_for_update(skip_locked=True)
        )
        if candidate is None:
            return None, False
        # The WHERE repeats the conditions: of two workers that saw the same candidate, one wins.
        claimed = (
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.id == candidate, *claimable)
                .values(lease_until=now + lease, lease_token=token, attempts=OutboxItem.attempts + 1)
                .returning(OutboxItem.attempts, OutboxItem.uncertain)
            )
        ).one_or_none()
    if claimed is None:
        return None, True
    return _Claim(candidate, token, attempts=claimed.attempts, look_first=claimed.uncertain), False


async def _outbound_for(database: Database, outbox_id: int) -> tuple[ChannelAccount, Outbound, set[str]]:
    """What to send, and the X ids Haven already recorded in this conversation."""
    async with database.reader() as session:
        item = await session.get_one(OutboxItem, outbox_id)
        message = item.message
        conversation = await session.get_one(Conversation, message.conversation_id)
        account = await session.get_one(ChannelAccount, item.channel_account_id)
        customer_post = await session.scalar(
            select(Message.external_id)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == Direction.INBOUND,
                Message.visibility == Visibility.PUBLIC,
                Message.contact_id == conversation.contact_id,
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
        recipient = await session.scalar(
            select(ContactIdentity.external_id).where(
                ContactIdentity.contact_id == conversation.contact_id,
                ContactIdentity.channel_kind == account.kind,
            )
        )
        recorded: Sequence[str | None] = (
            await session.scalars(
                select(Message.external_id).where(
                    Message.conversation_id == conversation.id, Message.external_id.is_not(None)
                )
            )
        ).all()
        if recipient is None:
            raise DeliveryError("the customer has no identity on this channel", terminal=True)
        outbound = outbound_for(
            text=message.text,
            visibility=message.visibility,
            thread_key=conversation.thread_key,
            in_reply_to=customer_post,
            recipient_user_id=recipient,
            brand_handle=account.handle,
            brand_user_id=account.external_user_id,
        )
        return account, outbound, {external_id for external_id in recorded if external_id}


async def _pause_account(session: AsyncSession, account_id: int, until: datetime, reason: str) -> None:
    account = await session.get_one(ChannelAccount, account_id)
    if account.send_paused_until is None or account.send_paused_until < until:
        account.send_paused_until = until
        account.send_pause_reason = reason[:300]
        log.info("sending from account %s paused until %s: %s", account_id, until.isoformat(), reason)


async def _mark_uncertain(database: Database, claim: _Claim) -> bool:
    """Note that a request is about to leave; False if the lease was lost meanwhile."""
    async with database.unit_of_work() as session:
        marked = await session.execute(
            update(OutboxItem)
            .where(OutboxItem.id == claim.outbox_id, OutboxItem.lease_token == claim.token)
            .values(uncertain=True)
        )
    return bool(marked.rowcount)  # type: ignore[attr-defined]


async def _still_leased(session: AsyncSession, claim: _Claim) -> OutboxItem | None:
    """The claimed row, or None if another worker has taken it over (it then owns the outcome)."""
    item = await session.get_one(OutboxItem, claim.outbox_id)
    if item.lease_token != claim.token:
        log.warning("outbox %s: lease lost before recording; the new holder decides", item.id)
        return None
    return item


async def _record_success(database: Database, claim: _Claim, delivered: Delivered) -> None:
    async with database.unit_of_work() as session:
        if (item := await _still_leased(session, claim)) is None:
            return
        message = item.message
        item.status = OutboxStatus.DONE
        item.lease_until = item.lease_token = item.last_error = None
        item.uncertain = False
        message.external_id = delivered.external_id
        message.in_reply_to_external_id = delivered.in_reply_to_external_id
        message.delivery_status = DeliveryStatus.SENT
        message.failure_reason = None
        message.sent_at = utcnow()
        if delivered.pause_account_until is not None:
            await _pause_account(
                session, item.channel_account_id, delivered.pause_account_until, "X rate-limit window used up"
            )
        conversation = await session.get_one(Conversation, message.conversation_id)
        record(
            session,
            SYSTEM,
            "message.delivered",
            "message",
            message.id,
            {"external_id": delivered.external_id},
        )
        queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "sent"))


async def _record_failure(
    database: Database, claim: _Claim, error: DeliveryError, timing: OutboxTiming = DEFAULT_TIMING
) -> None:
    async with database.unit_of_work() as session:
        if (item := await _still_leased(session, claim)) is None:
            return
        message = item.message
        item.lease_until = item.lease_token = None
        item.last_error = error.reason
        item.uncertain = item.uncertain and error.uncertain
        if error.pause_account and error.retry_at is not None:
            # Waiting out a window or a cap is not the message's fault: it costs no attempt.
            item.attempts -= 1
            item.next_attempt_at = error.retry_at
            await _pause_account(session, item.channel_account_id, error.retry_at, error.reason)
            if error.usage_capped:
                account = await session.get_one(ChannelAccount, item.channel_account_id)
                await raise_alert(
                    session,
                    brand_id=account.brand_id,
                    channel_account_id=account.id,
                    kind=USAGE_CAP,
                    detail=f"X usage cap reached; sending from @{account.handle} stopped until "
                    f"{error.retry_at:%Y-%m-%d %H:%M} UTC. {error.reason}",
                )
            return
        if error.terminal or claim.attempts >= MAX_ATTEMPTS:
            reason = (
                error.reason if error.terminal else f"gave up after {claim.attempts} attempts: {error.reason}"
            )
            item.status = OutboxStatus.FAILED
            message.delivery_status = DeliveryStatus.FAILED
            message.failure_reason = reason[:500]
            conversation = await session.get_one(Conversation, message.conversation_id)
            record(
                session, SYSTEM, "message.failed", "message", message.id, {"reason": message.failure_reason}
            )
            queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "failed"))
            return
        earliest = utcnow() + (
            max(_backoff(claim.attempts), timing.look_delay) if item.uncertain else _backoff(claim.attempts)
        )
        item.next_attempt_at = max(error.retry_at or earliest, earliest)


async def _send(database: Database, clients: XClientPool, claim: _Claim, timing: OutboxTiming) -> None:
    try:
        account, outbound, known_ids = await _outbound_for(database, claim.outbox_id)
        client = clients.client_for(account)
        delivered = await find_delivered(client, outbound, known_ids=known_ids) if claim.look_first else None
        if delivered is None:
            if not await _mark_uncertain(database, claim):
                return
            delivered = await deliver(client, outbound)
    except DeliveryError as error:
        log.warning("delivery of outbox %s failed: %s", claim.outbox_id, error.reason)
        await _record_failure(database, claim, error, timing)
        return
    except Exception as exc:
        # A bug or bad data must not leave the row leased for ever: it stays visible and retries.
        log.exception("delivery of outbox %s failed unexpectedly", claim.outbox_id)
        await _record_failure(
            database,
            claim,
            DeliveryError(f"internal error ({type(exc).__name__})", terminal=False, uncertain=True),
            timing,
        )
        return
    await _record_success(database, claim, delivered)


async def send_due(
    database: Database, clients: XClientPool, *, limit: int = 20, timing: OutboxTiming = DEFAULT_TIMING
) -> int:
    """Deliver up to ``limit`` due messages, one claim at a time; returns how many were attempted."""
    attempted = 0
    while attempted < limit and (claim := await _claim_next(database, timing)) is not None:
        await _send(database, clients, claim, timing)
        attempted += 1
    return attempted
