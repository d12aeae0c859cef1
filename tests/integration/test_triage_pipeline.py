"""Triage in the pipeline: every inbound post gets intent, priority, language and a private-data check."""

from __future__ import annotations

import json

from sqlalchemy import select

from haven.inbound.pipeline import process_pending
from haven.inbound.store import store_raw_events
from haven.models import (
    AuditEntry,
    Conversation,
    InboundEvent,
    Message,
    MessageTriage,
    TriageSettings,
)
from haven.runtime import Runtime
from haven.triage.intents import IntentGroup, group_of
from haven.triage.service import original_context
from tests.factories import World, inbound_conversation, next_id, tweet_event

CARD = "4111 1111 1111 1111"


async def _conversation(runtime: Runtime, conversation_id: int) -> Conversation:
    async with runtime.database.reader() as session:
        return await session.get_one(Conversation, conversation_id)


async def _inbound(runtime: Runtime, conversation_id: int) -> tuple[Message, MessageTriage]:
    async with runtime.database.reader() as session:
        message = await session.scalar(select(Message).where(Message.conversation_id == conversation_id))
        assert message is not None
        return message, await session.get_one(MessageTriage, message.id)


async def test_suspected_fraud_is_p1_with_its_reasons(runtime: Runtime, world: World) -> None:
    text = "@ExampleBankHelp there is a payment on my card I don't recognise, I never made it"
    conversation_id = await inbound_conversation(runtime, world, text=text)
    conversation = await _conversation(runtime, conversation_id)
    _, triage = await _inbound(runtime, conversation_id)
    assert group_of(triage.intent) is IntentGroup.SECURITY
    assert conversation.priority == 1
    assert conversation.intent == triage.intent
    assert any(reason.startswith("P1") for reason in conversation.priority_reasons)
    assert triage.priority_reasons == conversation.priority_reasons
    assert triage.intent_words and all(word.lower() in text.lower() for word in triage.intent_words)
    assert conversation.language == "en"
    assert conversation.first_response_due is not None and conversation.resolution_due is not None
    assert conversation.first_response_due < conversation.resolution_due


async def test_praise_is_out_of_scope_and_low_priority(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(
        runtime, world, text="@ExampleBankHelp you lot are brilliant, the new app looks great! 🎉"
    )
    _, triage = await _inbound(runtime, conversation_id)
    conversation = await _conversation(runtime, conversation_id)
    assert triage.intent is None
    assert triage.best_intent
    assert conversation.priority == 4


async def test_a_card_number_in_public_is_masked_sealed_and_scrubbed(runtime: Runtime, world: World) -> None:
    text = f"@ExampleBankHelp my card {CARD} was stolen, please block it"
    conversation_id = await inbound_conversation(runtime, world, text=text)
    message, triage = await _inbound(runtime, conversation_id)
    conversation = await _conversation(runtime, conversation_id)
    assert "1111 1111" not in message.text
    assert "1111 1111" not in conversation.preview
    assert conversation.private_data_exposed
    assert conversation.priority == 1
    assert triage.private_data == ["CREDIT_CARD"]
    assert triage.sealed_original is not None
    assert runtime.cipher.decrypt(triage.sealed_original, context=original_context(message.id)) == text
    async with runtime.database.reader() as session:
        payload = await session.scalar(
            select(InboundEvent.payload).where(InboundEvent.external_id == message.external_id)
        )
        audit = (await session.scalars(select(AuditEntry))).all()
    assert payload is not None and CARD not in payload
    assert json.loads(payload)["tweet"]["id"] == message.external_id
    assert not any("1111" in json.dumps(entry.details) for entry in audit)


async def test_by_policy_no_original_is_kept(runtime: Runtime, world: World) -> None:
    async with runtime.database.unit_of_work() as session:
        session.add(TriageSettings(brand_id=world.brand.id, keep_exposed_originals=False, pickup_minutes=5))
    conversation_id = await inbound_conversation(
        runtime, world, text=f"@ExampleBankHelp card {CARD} stolen, call me on 07911 123456"
    )
    _, triage = await _inbound(runtime, conversation_id)
    assert sorted(triage.private_data) == ["CREDIT_CARD", "PHONE_NUMBER"]
    assert triage.sealed_original is None


async def test_a_post_without_private_data_is_stored_as_written(runtime: Runtime, world: World) -> None:
    text = "@ExampleBankHelp order 4411-2231 for £1,250.00 on 12/03/2026 still pending, ref 99812"
    conversation_id = await inbound_conversation(runtime, world, text=text)
    message, triage = await _inbound(runtime, conversation_id)
    assert message.text == text
    assert triage.private_data == []
    assert not (await _conversation(runtime, conversation_id)).private_data_exposed


async def test_language_is_detected(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(
        runtime, world, text="@ExampleBankHelp hola, mi tarjeta no ha llegado todavía, ¿qué puedo hacer?"
    )
    assert (await _conversation(runtime, conversation_id)).language == "es"


async def test_priority_only_rises_while_open(runtime: Runtime, world: World) -> None:
    author = next_id()
    first = tweet_event(author_id=author, text="@ExampleBankHelp how long does a transfer take to arrive?")
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, world.account.id, "mentions", [first])
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversation_id = await session.scalar(
            select(Message.conversation_id).where(Message.external_id == first.external_id)
        )
    assert conversation_id is not None
    before = await _conversation(runtime, conversation_id)
    assert before.priority == 3
    urgent = tweet_event(
        author_id=author,
        conversation_id=first.external_id,
        replied_to=first.external_id,
        text="@ExampleBankHelp and now someone used my card, I think it has been stolen!",
    )
    calm = tweet_event(
        author_id=author,
        conversation_id=first.external_id,
        replied_to=first.external_id,
        text="@ExampleBankHelp also how do I change my address?",
    )
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, world.account.id, "mentions", [urgent, calm])
    await process_pending(runtime)
    after = await _conversation(runtime, conversation_id)
    assert after.priority == 1
    assert before.first_response_due is not None and after.first_response_due is not None
    assert after.first_response_due < before.first_response_due
