"""Inbound: raw events are stored once, processed into conversations, and nothing is lost."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select, update

from haven.channels.x.parse import RawEvent
from haven.inbound import pipeline
from haven.inbound.pipeline import process_pending
from haven.inbound.store import read_cursor, store_raw_events, write_cursor
from haven.models import (
    AuditEntry,
    ChannelAccount,
    Contact,
    Conversation,
    ConversationStatus,
    InboundEvent,
    Message,
)
from haven.runtime import Runtime
from tests.factories import World, inbound_conversation, next_id, tweet_event


async def _count(runtime: Runtime, model: type) -> int:
    async with runtime.database.reader() as session:
        return int(await session.scalar(select(func.count()).select_from(model)) or 0)


async def _store(runtime: Runtime, world: World, events: list[RawEvent]) -> None:
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, world.account.id, "mentions", events)


async def test_an_event_stored_twice_becomes_one_message(runtime: Runtime, world: World) -> None:
    event = tweet_event(author_id=next_id())
    await _store(runtime, world, [event])
    await _store(runtime, world, [event, event])
    result = await process_pending(runtime)
    assert result.processed == 1
    assert await _count(runtime, InboundEvent) == 1
    assert await _count(runtime, Message) == 1
    # Processing again finds nothing new.
    assert (await process_pending(runtime)).processed == 0


async def test_replies_thread_by_conversation_id_and_one_contact_per_user(
    runtime: Runtime, world: World
) -> None:
    customer = next_id()
    root = tweet_event(author_id=customer, text="@ExampleBankHelp transfer failed")
    reply = tweet_event(
        author_id=customer,
        text="@ExampleBankHelp still failing",
        conversation_id=root.external_id,
        replied_to=root.external_id,
    )
    other_thread = tweet_event(author_id=customer, text="@ExampleBankHelp another matter")
    await _store(runtime, world, [root, reply, other_thread])
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversations = (await session.scalars(select(Conversation).order_by(Conversation.id))).all()
        assert [c.thread_key for c in conversations] == [root.external_id, other_thread.external_id]
        assert len({c.contact_id for c in conversations}) == 1
        assert await session.scalar(select(func.count()).select_from(Contact)) == 1
        first = await session.scalars(
            select(Message.text).where(Message.conversation_id == conversations[0].id).order_by(Message.id)
        )
        assert list(first) == ["@ExampleBankHelp transfer failed", "@ExampleBankHelp still failing"]


async def test_brand_echoes_and_retweets_never_open_a_conversation(runtime: Runtime, world: World) -> None:
    own = tweet_event(author_id=world.account.external_user_id, username="ExampleBankHelp")
    retweet = tweet_event(author_id=next_id(), retweet_of=next_id())
    await _store(runtime, world, [own, retweet])
    await process_pending(runtime)
    assert await _count(runtime, Conversation) == 0
    async with runtime.database.reader() as session:
        outcomes = set((await session.scalars(select(InboundEvent.outcome))).all())
    assert outcomes == {"ignored: the brand's own post", "ignored: a retweet"}


async def test_a_malformed_event_is_kept_with_its_reason_and_the_rest_go_through(
    runtime: Runtime, world: World
) -> None:
    good = tweet_event(author_id=next_id())
    payload = json.loads(tweet_event(author_id=next_id()).payload)
    payload["tweet"]["text"] = "x" * 30_000
    too_long = RawEvent(payload["tweet"]["id"], json.dumps(payload))
    mismatched = json.loads(tweet_event(author_id=next_id()).payload)
    mismatched["author"]["id"] = next_id()
    not_json = RawEvent(next_id(), "{not json")
    bad_id = RawEvent("invalid:abc", json.dumps({"id": "x"}), error="item has no valid tweet id")
    await _store(
        runtime,
        world,
        [too_long, RawEvent(mismatched["tweet"]["id"], json.dumps(mismatched)), not_json, bad_id, good],
    )
    await process_pending(runtime)
    assert await _count(runtime, Message) == 1
    async with runtime.database.reader() as session:
        rows = (await session.scalars(select(InboundEvent).order_by(InboundEvent.id))).all()
    assert all(row.processed_at is not None for row in rows)
    assert [row.outcome for row in rows] == [
        "malformed: invalid fields: text",
        "malformed: author does not match the tweet's author_id",
        "malformed: payload is not JSON",
        "malformed: item has no valid tweet id",
        None,
    ]
    # The raw payload is kept exactly as it came, for an operator to look at.
    assert rows[2].payload == "{not json"


async def test_a_resolved_conversation_reopens_when_the_customer_writes_again(
    runtime: Runtime, world: World
) -> None:
    customer = next_id()
    root = tweet_event(author_id=customer)
    await _store(runtime, world, [root])
    await process_pending(runtime)
    async with runtime.database.unit_of_work() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None
        conversation.status = ConversationStatus.RESOLVED
    follow_up = tweet_event(
        author_id=customer,
        conversation_id=root.external_id,
        replied_to=root.external_id,
        text="@ExampleBankHelp one more thing",
    )
    await _store(runtime, world, [follow_up])
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversation = await session.scalar(select(Conversation))
        assert conversation is not None and conversation.status is ConversationStatus.OPEN
        assert conversation.preview == "@ExampleBankHelp one more thing"
        actions = set((await session.scalars(select(AuditEntry.action))).all())
    assert {"conversation.open", "conversation.reopen", "message.receive"} <= actions


async def test_cursor_is_per_account_and_stream(runtime: Runtime, world: World) -> None:
    async with runtime.database.unit_of_work() as session:
        assert await read_cursor(session, world.account.id, "mentions") is None
        await write_cursor(session, world.account.id, "mentions", "100")
    async with runtime.database.unit_of_work() as session:
        await write_cursor(session, world.account.id, "mentions", "200")
        await write_cursor(session, world.other_account.id, "mentions", "5")
    async with runtime.database.reader() as session:
        assert await read_cursor(session, world.account.id, "mentions") == "200"
        assert await read_cursor(session, world.other_account.id, "mentions") == "5"
        assert await read_cursor(session, world.account.id, "search") is None


async def test_a_poisonous_event_fails_alone_and_is_parked_after_its_attempts(
    runtime: Runtime, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An unexpected error fails the batch; the events are then processed one by one, the bad one
    is retried on later calls, and after MAX_ATTEMPTS it is parked with its reason."""
    real = pipeline.record_inbound

    async def explode_on_poison(session, account, post, **options):  # type: ignore[no-untyped-def]
        if "poison" in post.text:
            raise RuntimeError("simulated bug")
        return await real(session, account, post, **options)

    monkeypatch.setattr(pipeline, "record_inbound", explode_on_poison)
    events = [
        tweet_event(author_id=next_id(), text=f"@ExampleBankHelp {word}") for word in ("a", "poison", "b")
    ]
    await _store(runtime, world, events)
    first = await process_pending(runtime)
    assert (first.processed, first.failed) == (2, 1)
    assert await _count(runtime, Message) == 2
    for _ in range(pipeline.MAX_ATTEMPTS):
        await process_pending(runtime)
    async with runtime.database.reader() as session:
        poison = await session.scalar(
            select(InboundEvent).where(InboundEvent.external_id == events[1].external_id)
        )
    assert poison is not None and poison.processed_at is None
    assert poison.attempts == pipeline.MAX_ATTEMPTS and poison.outcome == "failed: RuntimeError"
    assert (await process_pending(runtime)).processed == 0


async def test_a_trigger_the_account_excludes_opens_nothing_but_joins_a_known_thread(
    runtime: Runtime, world: World
) -> None:
    known = await inbound_conversation(runtime, world)
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == world.account.id)
            .values(settings={"open_on": ["mention", "reply", "dm"]})
        )
        thread = (await session.get_one(Conversation, known)).thread_key
    # The factory's tweets neither @-mention the brand by id nor answer it: keyword posts.
    keyword = tweet_event(author_id=next_id(), text="Example Bank app down again?")
    # A thread Haven already has takes every post, whatever its trigger.
    follow_up = tweet_event(author_id=next_id(), text="same here", conversation_id=thread)
    await _store(runtime, world, [keyword, follow_up])
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        outcome = await session.scalar(
            select(InboundEvent.outcome).where(InboundEvent.external_id == keyword.external_id)
        )
        opened = await session.scalar(select(Message.id).where(Message.external_id == keyword.external_id))
        joined = await session.scalar(
            select(Message.conversation_id).where(Message.external_id == follow_up.external_id)
        )
    assert outcome == "ignored: a keyword post does not open a conversation here" and opened is None
    assert joined == known
