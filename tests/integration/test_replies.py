"""The one outbound path: validation first, then message + outbox + audit in one transaction."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import func, select

from haven.conversations.repository import access_conversation
from haven.kit.actor import Actor
from haven.kit.errors import Invalid, NotFound
from haven.messages.service import send_reply
from haven.models import AuditEntry, Conversation, DeliveryStatus, Message, OutboxItem, Visibility
from haven.realtime.events import RealtimeEvent
from haven.runtime import Runtime
from tests.factories import World, inbound_conversation


async def _conversation(runtime: Runtime, world: World) -> int:
    return await inbound_conversation(runtime, world)


async def _reply(
    runtime: Runtime, world: World, conversation_id: int, text: str, visibility: Visibility
) -> Message:
    async with runtime.database.unit_of_work() as session:
        actor = Actor.of(world.agent)
        conversation = await access_conversation(session, actor, conversation_id)
        return await send_reply(session, actor, conversation, text=text, visibility=visibility)


async def _counts(runtime: Runtime) -> tuple[int, int]:
    async with runtime.database.reader() as session:
        messages = await session.scalar(select(func.count()).select_from(Message))
        outbox = await session.scalar(select(func.count()).select_from(OutboxItem))
    return int(messages or 0), int(outbox or 0)


async def test_public_reply_is_queued_with_its_outbox_row_and_audit(runtime: Runtime, world: World) -> None:
    conversation_id = await _conversation(runtime, world)
    message = await _reply(runtime, world, conversation_id, "  We're on it. ", Visibility.PUBLIC)
    assert message.text == "We're on it."
    assert message.delivery_status is DeliveryStatus.QUEUED
    async with runtime.database.reader() as session:
        outbox = (await session.scalars(select(OutboxItem))).unique().one()
        assert outbox.message_id == message.id
        assert (outbox.attempts, outbox.lease_token, outbox.uncertain) == (0, None, False)
        audit = await session.scalar(select(AuditEntry).where(AuditEntry.action == "message.send"))
        assert audit is not None and audit.actor_id == str(world.agent.id)
        conversation = await session.get_one(Conversation, conversation_id)
        assert conversation.assignee_id == world.agent.id


async def test_browser_line_breaks_are_normalised_not_refused(runtime: Runtime, world: World) -> None:
    conversation_id = await _conversation(runtime, world)
    message = await _reply(
        runtime, world, conversation_id, "Hi Maria,\r\nwe're on it.\rThanks", Visibility.PUBLIC
    )
    assert message.text == "Hi Maria,\nwe're on it.\nThanks"


async def test_internal_note_never_reaches_the_outbox(runtime: Runtime, world: World) -> None:
    conversation_id = await _conversation(runtime, world)
    message = await _reply(runtime, world, conversation_id, "customer sounds upset", Visibility.INTERNAL)
    assert message.delivery_status is DeliveryStatus.NOT_APPLICABLE
    assert await _counts(runtime) == (2, 0)


@pytest.mark.parametrize(
    ("text", "visibility", "reason"),
    [
        ("p" * 10_001, Visibility.PRIVATE, "longer than 10000"),
        ("x" * 281, Visibility.PUBLIC, "longer than 280"),
        ("   \n\t ", Visibility.PUBLIC, "empty"),
        ("bell\x07", Visibility.PUBLIC, "control characters"),
    ],
)
async def test_refused_replies_store_nothing(
    runtime: Runtime, world: World, text: str, visibility: Visibility, reason: str
) -> None:
    conversation_id = await _conversation(runtime, world)
    before = await _counts(runtime)
    with pytest.raises(Invalid, match=reason):
        await _reply(runtime, world, conversation_id, text, visibility)
    assert await _counts(runtime) == before


async def test_a_long_internal_note_is_fine_but_a_long_tweet_is_not(runtime: Runtime, world: World) -> None:
    conversation_id = await _conversation(runtime, world)
    note = await _reply(runtime, world, conversation_id, "n" * 2000, Visibility.INTERNAL)
    assert len(note.text) == 2000


async def test_another_brands_agent_cannot_even_see_the_conversation(runtime: Runtime, world: World) -> None:
    conversation_id = await _conversation(runtime, world)
    async with runtime.database.reader() as session:
        with pytest.raises(NotFound):
            await access_conversation(session, Actor.of(world.outsider), conversation_id)


async def test_events_are_published_only_after_commit(runtime: Runtime, world: World) -> None:
    conversation_id = await _conversation(runtime, world)
    received: list[RealtimeEvent] = []
    with runtime.bus.subscribe() as subscription:
        with pytest.raises(RuntimeError):
            async with runtime.database.unit_of_work() as session:
                actor = Actor.of(world.agent)
                conversation = await access_conversation(session, actor, conversation_id)
                await send_reply(
                    session, actor, conversation, text="rolled back", visibility=Visibility.PUBLIC
                )
                raise RuntimeError("crash before commit")
        assert await _counts(runtime) == (1, 0)
        await _reply(runtime, world, conversation_id, "committed", Visibility.PUBLIC)
        while len(received) < 2:
            event = await asyncio.wait_for(subscription.get(), timeout=2)
            assert event is not None
            received.append(event)
    assert {e.type for e in received} == {"conversation.changed", "outbox.queued"}
    assert all(e.brand_id == world.brand.id for e in received)
