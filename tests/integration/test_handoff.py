"""The secure handoff end to end over real sockets: invite, verify by code, chat, form, end, rate."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select, update

from haven.models import (
    AuditEntry,
    ChatStatus,
    Conversation,
    DeliveryStatus,
    Message,
    OutboxItem,
    SecureFormValue,
    Visibility,
)
from haven.runtime import Runtime
from tests.factories import World
from tests.handoff_support import (
    LiveHaven,
    agent_signs_in,
    chat_of,
    chat_socket,
    customer_tweets,
    hand_off,
    last_code,
    live_haven,
    new_x_user,
    open_link,
    post,
    receive,
    secure_chat,
    write_directory,
)

VISA = "4111 1111 1111 1111"


@pytest.fixture
async def haven(runtime: Runtime, world: World, tmp_path: Path) -> AsyncIterator[LiveHaven]:
    directory = write_directory(tmp_path / "directory.json", [])
    async with live_haven(runtime, directory) as live:
        yield live


def customer_record(x_user_id: str, n: int) -> dict[str, str]:
    return {
        "customer_id": f"C-{n}",
        "name": f"Customer {n}",
        "phone": f"+4477009001{n:02d}",
        "x_user_id": x_user_id,
    }


@pytest.fixture
async def linked(
    runtime: Runtime, world: World, tmp_path: Path
) -> AsyncIterator[tuple[LiveHaven, list[str]]]:
    """A Haven whose directory links three X users to bank customers."""
    users = [new_x_user() for _ in range(3)]
    directory = write_directory(
        tmp_path / "directory.json", [customer_record(u, n) for n, u in enumerate(users)]
    )
    async with live_haven(runtime, directory) as live:
        yield live, users


async def test_the_invitation_travels_the_outbound_path_and_holds_no_private_data(
    runtime: Runtime, world: World, linked: tuple[LiveHaven, list[str]]
) -> None:
    haven, users = linked
    conversation_id = await customer_tweets(runtime, world, x_user_id=users[0])
    agent = await agent_signs_in(haven, world.agent.email)
    link = await hand_off(haven, agent, conversation_id)
    async with runtime.database.reader() as session:
        message = await session.scalar(select(Message).where(Message.text.contains(link)))
        assert message is not None
        outbox = await session.scalar(select(OutboxItem).where(OutboxItem.message_id == message.id))
    # The customer never wrote privately, so the link goes as a public reply, queued like any other.
    assert message.visibility is Visibility.PUBLIC
    assert outbox is not None and message.delivery_status is DeliveryStatus.QUEUED
    assert len(message.text) <= 280
    assert "password or PIN" in message.text
    token = link.rsplit("/", 1)[1]
    assert len(token) >= 43  # 256 random bits
    async with runtime.database.reader() as session:
        audit = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "handoff.invite"))).all()
    assert len(audit) == 1 and token not in str(audit[0].details)


async def test_a_customer_verifies_chats_fills_a_form_and_rates(
    runtime: Runtime, world: World, linked: tuple[LiveHaven, list[str]]
) -> None:
    haven, users = linked
    conversation_id = await customer_tweets(runtime, world, x_user_id=users[0])
    agent = await agent_signs_in(haven, world.agent.email)
    customer = await secure_chat(haven, agent, conversation_id)
    chat = await chat_of(runtime, conversation_id)
    assert chat.status is ChatStatus.LIVE

    page = await customer.get("/chat")
    assert page.status_code == 200 and 'data-chat-id="' in page.text
    async with (
        chat_socket(haven, customer, f"/chat/ws?chat={chat.id}") as customer_ws,
        chat_socket(haven, agent, f"/ws/chats/{chat.id}") as agent_ws,
    ):
        await customer_ws.send(
            '{"type": "message", "text": "Hello, it is about the double charge", "client_id": "c1"}'
        )
        for socket in (customer_ws, agent_ws):
            event = await receive(socket)
            assert event["kind"] == "message" and event["side"] == "customer" and event["client_id"] == "c1"
        await agent_ws.send('{"type": "typing"}')
        assert (await receive(customer_ws, kind="typing"))["from"] == "agent"
        await agent_ws.send('{"type": "message", "text": "I can see it. Let me check.", "client_id": "a1"}')
        for socket in (customer_ws, agent_ws):
            event = await receive(socket)
            assert event["side"] == "agent" and event["author"] == "Alex Agent"

        conversation_page = f"/conversations/{conversation_id}"
        asked = await post(
            agent,
            f"{conversation_page}/chat/forms",
            {"fields": ["card_last4", "transaction_amount"]},
            page=conversation_page,
        )
        assert asked.status_code == 303
        form_event = await receive(customer_ws)
        assert form_event["kind"] == "form_requested"
        form_id = form_event["form"]["id"]
        assert [f["kind"] for f in form_event["form"]["fields"]] == ["card_last4", "transaction_amount"]
        answered = await post(
            customer,
            f"/chat/forms/{form_id}",
            {"card_last4": VISA, "transaction_amount": "£42.50"},
            page="/chat",
        )
        assert answered.status_code == 200, answered.text
        assert (await receive(agent_ws))["kind"] == "form_requested"
        assert (await receive(agent_ws))["kind"] == "form_submitted"

        ended = await post(agent, f"{conversation_page}/chat/end", {}, page=conversation_page)
        assert ended.status_code == 303
        assert (await receive(customer_ws))["kind"] == "form_submitted"
        assert (await receive(customer_ws))["kind"] == "ended"

    rated = await post(customer, "/chat/rating", {"score": "4", "comment": "quick, thanks"}, page="/chat")
    assert rated.status_code == 303
    again = await post(customer, "/chat/rating", {"score": "1"}, page="/chat")
    assert again.status_code == 409

    async with runtime.database.reader() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        values = (await session.scalars(select(SecureFormValue))).all()
        chat_messages = (
            await session.scalars(select(Message).where(Message.chat_id == chat.id).order_by(Message.id))
        ).all()
    assert (conversation.csat_score, conversation.csat_comment) == (4, "quick, thanks")
    assert [m.text for m in chat_messages] == [
        "Hello, it is about the double charge",
        "I can see it. Let me check.",
    ]
    assert all(m.visibility is Visibility.PRIVATE for m in chat_messages)
    by_field = {v.field: v for v in values}
    assert by_field["card_last4"].masked == "•• 11"
    assert by_field["transaction_amount"].masked == "42.50"
    for value in values:
        assert value.key_id == runtime.cipher.current_key_id
        assert "4111" not in value.value_encrypted and "42.50" not in value.value_encrypted
    assert (
        runtime.cipher.decrypt(
            by_field["card_last4"].value_encrypted, context=f"secure_form_value:{form_id}:card_last4"
        )
        == "1111"
    )

    # The agent sees the chat in the conversation's one timeline, and the masked values.
    timeline = (await agent.get(f"/conversations/{conversation_id}")).text
    assert "secure chat" in timeline and "•• 11" in timeline and "4/5" in timeline


async def test_only_permitted_agents_reveal_form_values_and_every_reveal_is_audited(
    runtime: Runtime, world: World, linked: tuple[LiveHaven, list[str]]
) -> None:
    haven, users = linked
    conversation_id = await customer_tweets(runtime, world, x_user_id=users[0])
    agent = await agent_signs_in(haven, world.agent.email)
    customer = await secure_chat(haven, agent, conversation_id)
    page = f"/conversations/{conversation_id}"
    await post(agent, f"{page}/chat/forms", {"fields": ["date_of_birth"]}, page=page)
    assert (await chat_of(runtime, conversation_id)).status is ChatStatus.LIVE
    async with chat_socket(haven, customer, "/chat/ws") as customer_ws:
        form_id = (await receive(customer_ws))["form"]["id"]
    answered = await post(customer, f"/chat/forms/{form_id}", {"date_of_birth": "1985-07-14"}, page="/chat")
    assert answered.status_code == 200

    refused = await post(agent, f"{page}/forms/{form_id}/reveal", {}, page=page)
    assert refused.status_code == 403 and "1985-07-14" not in refused.text
    supervisor = await agent_signs_in(haven, world.supervisor.email)
    shown = await post(supervisor, f"{page}/forms/{form_id}/reveal", {}, page=page)
    assert shown.status_code == 200 and "1985-07-14" in shown.text
    masked = await supervisor.get(page)
    assert "1985-07-14" not in masked.text and "••••-••-••" in masked.text
    async with runtime.database.reader() as session:
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.action.startswith("secure_form.reveal"))
            )
        ).all()
    assert sorted(actions) == ["secure_form.reveal", "secure_form.reveal_refused"]

    # An altered value fails closed, with a plain answer.
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(SecureFormValue)
            .where(SecureFormValue.form_id == form_id)
            .values(value_encrypted="v1.x.y.z")
        )
    broken = await post(supervisor, f"{page}/forms/{form_id}/reveal", {}, page=page)
    assert broken.status_code == 409 and "cannot be decrypted" in broken.text


async def test_a_reconnecting_customer_resumes_without_loss_or_doubles(
    runtime: Runtime, world: World, linked: tuple[LiveHaven, list[str]]
) -> None:
    haven, users = linked
    conversation_id = await customer_tweets(runtime, world, x_user_id=users[0])
    agent = await agent_signs_in(haven, world.agent.email)
    customer = await secure_chat(haven, agent, conversation_id)
    chat = await chat_of(runtime, conversation_id)
    async with chat_socket(haven, agent, f"/ws/chats/{chat.id}") as agent_ws:
        async with chat_socket(haven, customer, "/chat/ws") as customer_ws:
            await customer_ws.send('{"type": "message", "text": "first", "client_id": "m1"}')
            seen = (await receive(customer_ws))["seq"]
        # Offline: the agent writes twice, and the customer's resent message must not double.
        assert (await receive(agent_ws))["text"] == "first"
        for n in (1, 2):
            await agent_ws.send(f'{{"type": "message", "text": "while away {n}", "client_id": "a{n}"}}')
            assert (await receive(agent_ws))["text"] == f"while away {n}"
        async with chat_socket(haven, customer, f"/chat/ws?after={seen}") as customer_ws:
            await customer_ws.send('{"type": "message", "text": "first", "client_id": "m1"}')
            await customer_ws.send('{"type": "message", "text": "back again", "client_id": "m2"}')
            texts = [(await receive(customer_ws))["text"] for _ in range(3)]
            with pytest.raises(TimeoutError):
                await receive(customer_ws, timeout=0.5)
    assert texts == ["while away 1", "while away 2", "back again"]


async def test_two_customers_hear_only_their_own_chat(
    runtime: Runtime, world: World, linked: tuple[LiveHaven, list[str]]
) -> None:
    haven, users = linked
    agent = await agent_signs_in(haven, world.agent.email)
    customers, chats = [], []
    for user in users[:2]:
        conversation_id = await customer_tweets(runtime, world, x_user_id=user)
        customers.append(await secure_chat(haven, agent, conversation_id))
        chats.append((await chat_of(runtime, conversation_id)).id)
    async with (
        chat_socket(haven, customers[0], "/chat/ws") as first,
        chat_socket(haven, customers[1], "/chat/ws") as second,
        chat_socket(haven, agent, f"/ws/chats/{chats[0]}") as agent_first,
        chat_socket(haven, agent, f"/ws/chats/{chats[1]}") as agent_second,
    ):
        await asyncio.gather(
            first.send('{"type": "message", "text": "secret of one", "client_id": "x"}'),
            second.send('{"type": "message", "text": "secret of two", "client_id": "x"}'),
            agent_first.send('{"type": "message", "text": "for one only", "client_id": "y"}'),
            agent_second.send('{"type": "message", "text": "for two only", "client_id": "y"}'),
        )
        heard: dict[str, set[str]] = {}
        for name, socket in (
            ("first", first),
            ("second", second),
            ("agent_first", agent_first),
            ("agent_second", agent_second),
        ):
            heard[name] = {(await receive(socket))["text"] for _ in range(2)}
            with pytest.raises(TimeoutError):
                await receive(socket, timeout=0.3)
    assert heard["first"] == heard["agent_first"] == {"secret of one", "for one only"}
    assert heard["second"] == heard["agent_second"] == {"secret of two", "for two only"}


async def test_an_unlinked_customer_verifies_with_the_contact_details_the_bank_holds(
    runtime: Runtime, world: World, tmp_path: Path
) -> None:
    x_user = new_x_user()
    record = {"customer_id": "C-9", "name": "Nine", "email": "nine@example.com"}
    directory = write_directory(tmp_path / "directory.json", [record])
    async with live_haven(runtime, directory) as haven:
        conversation_id = await customer_tweets(runtime, world, x_user_id=x_user)
        agent = await agent_signs_in(haven, world.agent.email)
        customer = await open_link(haven, await hand_off(haven, agent, conversation_id))
        landing = await customer.get("/chat/verify")
        assert 'name="contact"' in landing.text
        unknown = await post(
            customer, "/chat/verify/code/send", {"contact": "someone@else.com"}, page="/chat/verify"
        )
        assert unknown.status_code == 200 and "If the details match" in unknown.text
        assert haven.phone.messages() == []
        sent = await post(
            customer, "/chat/verify/code/send", {"contact": "NINE@example.com"}, page="/chat/verify"
        )
        assert "n•••@example.com" in sent.text
        assert haven.phone.messages()[0].destination == "nine@example.com"
        code = last_code(haven)
        checked = await post(customer, "/chat/verify/code", {"code": code}, page="/chat/verify")
        assert checked.status_code == 303 and checked.headers["location"] == "/chat"
