"""The outbox sender: claims due deliveries, sends them, and records what happened.

A claim is a lease: a worker that dies mid-delivery leaves a lease that expires, and the next worker
to claim the row first looks on X for the reply (the earlier attempt may have landed) before it
posts again. So a reply is never posted twice, and never lost.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import or_, select

from haven.audit.service import record
from haven.channels.base import Delivered, DeliveryError
from haven.channels.x.account import XClientPool
from haven.channels.x.delivery import OutboundTweet, deliver, find_delivered
from haven.db import Database, queue_event
from haven.kit.actor import SYSTEM
from haven.kit.clock import utcnow
from haven.models import (
    ChannelAccount,
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

LEASE = timedelta(seconds=60)
MAX_ATTEMPTS = 8


@dataclass(frozen=True, slots=True)
class _Claim:
    outbox_id: int
    attempts: int


def _backoff(attempts: int) -> timedelta:
    return timedelta(seconds=min(2**attempts, 300))


async def _claim(database: Database, limit: int) -> list[_Claim]:
    now = utcnow()
    async with database.unit_of_work() as session:
        rows = (
            (
                await session.scalars(
                    select(OutboxItem)
                    .where(
                        OutboxItem.status == OutboxStatus.PENDING,
                        OutboxItem.next_attempt_at <= now,
                        or_(OutboxItem.lease_until.is_(None), OutboxItem.lease_until < now),
                    )
                    .order_by(OutboxItem.id)
                    .limit(limit)
                    # Lock only the outbox rows: PostgreSQL refuses to lock the eager outer joins.
                    .with_for_update(skip_locked=True, of=OutboxItem)
                )
            )
            .unique()
            .all()
        )
        for row in rows:
            row.lease_until = now + LEASE
            row.attempts += 1
        return [_Claim(row.id, row.attempts) for row in rows]


async def _outbound_for(database: Database, outbox_id: int) -> tuple[ChannelAccount, OutboundTweet]:
    async with database.reader() as session:
        item = await session.get_one(OutboxItem, outbox_id)
        message = item.message
        conversation = await session.get_one(Conversation, message.conversation_id)
        account = await session.get_one(ChannelAccount, item.channel_account_id)
        latest_customer_post = await session.scalar(
            select(Message.external_id)
            .where(
                Message.conversation_id == conversation.id,
                Message.direction == Direction.INBOUND,
                Message.visibility == Visibility.PUBLIC,
            )
            .order_by(Message.created_at.desc(), Message.id.desc())
            .limit(1)
        )
        return account, OutboundTweet(
            text=message.text,
            visibility=message.visibility,
            thread_key=conversation.thread_key,
            in_reply_to=latest_customer_post,
            brand_handle=account.handle,
        )


async def _record_success(database: Database, outbox_id: int, delivered: Delivered) -> None:
    async with database.unit_of_work() as session:
        item = await session.get_one(OutboxItem, outbox_id)
        message = item.message
        item.status = OutboxStatus.DONE
        item.lease_until = None
        item.last_error = None
        message.external_id = delivered.external_id
        message.in_reply_to_external_id = delivered.in_reply_to_external_id
        message.delivery_status = DeliveryStatus.SENT
        message.failure_reason = None
        message.sent_at = utcnow()
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


async def _record_failure(database: Database, claim: _Claim, error: DeliveryError) -> None:
    async with database.unit_of_work() as session:
        item = await session.get_one(OutboxItem, claim.outbox_id)
        message = item.message
        item.lease_until = None
        item.last_error = error.reason
        if error.terminal or claim.attempts >= MAX_ATTEMPTS:
            item.status = OutboxStatus.FAILED
            message.delivery_status = DeliveryStatus.FAILED
            message.failure_reason = error.reason
            conversation = await session.get_one(Conversation, message.conversation_id)
            record(session, SYSTEM, "message.failed", "message", message.id, {"reason": error.reason})
            queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "failed"))
        else:
            earliest = utcnow() + _backoff(claim.attempts)
            item.next_attempt_at = max(error.retry_at or earliest, earliest)


async def _send(database: Database, clients: XClientPool, claim: _Claim) -> None:
    account, outbound = await _outbound_for(database, claim.outbox_id)
    client = clients.client_for(account)
    try:
        already = await find_delivered(client, outbound) if claim.attempts > 1 else None
        delivered = already or await deliver(client, outbound)
    except DeliveryError as error:
        log.warning("delivery of outbox %s failed: %s", claim.outbox_id, error.reason)
        await _record_failure(database, claim, error)
        return
    await _record_success(database, claim.outbox_id, delivered)


async def send_due(database: Database, clients: XClientPool, *, limit: int = 20) -> int:
    """Deliver what is due now; returns how many deliveries were attempted."""
    claims = await _claim(database, limit)
    for claim in claims:
        await _send(database, clients, claim)
    return len(claims)
