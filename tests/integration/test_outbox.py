"""The outbox sender's claims: exclusive across processes, lost leases, giving up, unexpected errors.

Deliveries here go to an address where nothing listens (the factory's default), so every attempt
fails fast and definitely; delivery to a real X is covered in tests/e2e/test_x_channel.py.
"""

from __future__ import annotations

import asyncio
from datetime import timedelta

from sqlalchemy import select, update

from haven.channels.base import Delivered
from haven.channels.x.account import XClientPool
from haven.conversations.repository import access_conversation
from haven.db import Database, create_engine
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.messages.service import send_reply
from haven.models import ChannelAccount, DeliveryStatus, Message, OutboxItem, OutboxStatus, Visibility
from haven.realtime.bus import InProcessBus
from haven.runtime import Runtime
from haven.workers import outbox
from tests.factories import World, inbound_conversation


async def _queue(runtime: Runtime, world: World, count: int) -> list[int]:
    conversation_id = await inbound_conversation(runtime, world)
    ids = []
    async with runtime.database.unit_of_work() as session:
        actor = Actor.of(world.agent)
        conversation = await access_conversation(session, actor, conversation_id)
        for n in range(count):
            message = await send_reply(
                session, actor, conversation, text=f"reply {n}", visibility=Visibility.PUBLIC
            )
            ids.append(message.id)
    return ids


async def _outbox(runtime: Runtime, message_id: int) -> OutboxItem:
    async with runtime.database.reader() as session:
        return (await session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id))).one()


async def test_two_processes_never_claim_the_same_delivery(runtime: Runtime, world: World) -> None:
    await _queue(runtime, world, 12)
    # Two engines on one database, as two worker processes would have.
    other = Database(create_engine(runtime.settings.database_url), InProcessBus())
    try:
        claims = await asyncio.gather(
            *(outbox._claim_next(db) for _ in range(10) for db in (runtime.database, other))
        )
    finally:
        await other.dispose()
    claimed = [claim.outbox_id for claim in claims if claim is not None]
    assert len(claimed) == 12 and len(set(claimed)) == 12
    assert all(claim.attempts == 1 and not claim.look_first for claim in claims if claim)


async def test_a_worker_whose_lease_was_taken_over_cannot_record(runtime: Runtime, world: World) -> None:
    [message_id] = await _queue(runtime, world, 1)
    first = await outbox._claim_next(runtime.database)
    assert first is not None and await outbox._mark_uncertain(runtime.database, first)
    # The first worker stalls past its lease; another claims the row and must look before posting.
    async with runtime.database.unit_of_work() as session:
        await session.execute(update(OutboxItem).values(lease_until=utcnow() - timedelta(seconds=1)))
    second = await outbox._claim_next(runtime.database)
    assert second is not None and second.outbox_id == first.outbox_id
    assert second.attempts == 2 and second.look_first
    assert not await outbox._mark_uncertain(runtime.database, first)
    await outbox._record_success(runtime.database, first, Delivered("1999", None))
    row = await _outbox(runtime, message_id)
    assert row.status is OutboxStatus.PENDING and row.lease_token == second.token


async def test_after_max_attempts_the_delivery_fails_visibly(runtime: Runtime, world: World) -> None:
    [message_id] = await _queue(runtime, world, 1)
    async with runtime.database.unit_of_work() as session:
        await session.execute(update(OutboxItem).values(attempts=outbox.MAX_ATTEMPTS - 1))
    clients = XClientPool(runtime.cipher)
    try:
        assert await outbox.send_due(runtime.database, clients) == 1
    finally:
        await clients.aclose()
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
    assert message.delivery_status is DeliveryStatus.FAILED
    assert message.failure_reason == f"gave up after {outbox.MAX_ATTEMPTS} attempts: could not connect to X"
    assert (await _outbox(runtime, message_id)).status is OutboxStatus.FAILED


async def test_a_refused_connection_is_retried_later_without_looking_first(
    runtime: Runtime, world: World
) -> None:
    [message_id] = await _queue(runtime, world, 1)
    clients = XClientPool(runtime.cipher)
    try:
        assert await outbox.send_due(runtime.database, clients) == 1
        # Not due again yet: the backoff holds it back.
        assert await outbox.send_due(runtime.database, clients) == 0
    finally:
        await clients.aclose()
    row = await _outbox(runtime, message_id)
    assert row.status is OutboxStatus.PENDING and row.last_error == "could not connect to X"
    assert not row.uncertain and row.lease_token is None and row.next_attempt_at > utcnow()


async def test_an_unexpected_error_leaves_the_row_retrying_not_stuck(runtime: Runtime, world: World) -> None:
    [message_id] = await _queue(runtime, world, 1)
    async with runtime.database.unit_of_work() as session:
        await session.execute(update(ChannelAccount).values(credentials_encrypted="v1.gone.AAAA.BBBB"))
    clients = XClientPool(runtime.cipher)
    try:
        assert await outbox.send_due(runtime.database, clients) == 1
    finally:
        await clients.aclose()
    row = await _outbox(runtime, message_id)
    assert row.status is OutboxStatus.PENDING and row.lease_token is None and row.lease_until is None
    assert row.last_error == "internal error (DecryptionError)"
    assert row.next_attempt_at > utcnow()
