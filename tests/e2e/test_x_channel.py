"""The X channel against a real xsim: pagination and cursors, refusals, rate limits, no double posts."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select, update

from haven.channels.x.account import XClientPool, open_credentials
from haven.channels.x.client import XApiError, XClient
from haven.channels.x.delivery import PublicReply, deliver
from haven.channels.x.poller import poll_mentions
from haven.conversations.repository import access_conversation
from haven.inbound.pipeline import process_pending
from haven.kit.actor import Actor
from haven.messages.service import send_reply
from haven.models import Conversation, DeliveryStatus, Message, OutboxItem, Visibility
from haven.runtime import Runtime
from haven.workers.outbox import send_due
from tests.e2e.conftest import Stack
from tests.factories import World


async def _customers(xsim: httpx.AsyncClient, count: int, prefix: str) -> list[str]:
    tokens = []
    for n in range(count):
        response = await xsim.post("/_sim/users", json={"username": f"{prefix}{n}", "name": f"Customer {n}"})
        assert response.status_code == 201, response.text
        tokens.append(response.json()["access_token"])
    return tokens


async def _mention(xsim: httpx.AsyncClient, token: str, text: str) -> str:
    response = await xsim.post(
        "/2/tweets", json={"text": f"@ExampleBankHelp {text}"}, headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def test_polling_walks_every_page_then_only_reads_what_is_new(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient
) -> None:
    # The stack's own Haven polls this xsim too; this test reads with its own account and database.
    tokens = await _customers(xsim, 3, "pg")
    ids = [await _mention(xsim, tokens[n % 3], f"question number {n}") for n in range(230)]
    client = XClient(world.account.api_base_url, open_credentials(runtime.cipher, world.account))
    try:
        first = await poll_mentions(runtime.database, client, world.account)
        more = [await _mention(xsim, tokens[0], f"follow-up {n}") for n in range(5)]
        second = await poll_mentions(runtime.database, client, world.account)
        third = await poll_mentions(runtime.database, client, world.account)
    finally:
        await client.aclose()
    # Other tests of the session may have mentioned the brand too; ours are all there, once.
    assert first.fetched >= 230 and first.cursor is not None and int(first.cursor) >= int(ids[-1])
    assert second.fetched == 5 and second.cursor == more[-1]
    assert third.fetched == 0 and third.cursor == more[-1]
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        stored = set((await session.scalars(select(Message.external_id))).all())
    assert set(ids) | set(more) <= stored


async def test_wrong_credentials_are_refused_by_x_and_nothing_is_stored(
    runtime: Runtime, world: World, stack: Stack
) -> None:
    wrong = stack.credentials.model_copy(update={"bearer_token": "AAAAwrong", "consumer_secret": "wrong"})
    client = XClient(stack.xsim_url, wrong)
    try:
        with pytest.raises(XApiError) as refused:
            await poll_mentions(runtime.database, client, world.account)
        assert refused.value.status == 401 and refused.value.terminal
        with pytest.raises(XApiError) as refused_post:
            await client.create_tweet("hello")
        assert refused_post.value.status == 401
    finally:
        await client.aclose()
    async with runtime.database.reader() as session:
        assert await session.scalar(select(func.count()).select_from(Message)) == 0


async def _queued_reply(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, prefix: str, text: str
) -> int:
    [token] = await _customers(xsim, 1, prefix)
    await _mention(xsim, token, "my transfer failed")
    clients = XClientPool(runtime.cipher)
    try:
        await poll_mentions(runtime.database, clients.client_for(world.account), world.account)
    finally:
        await clients.aclose()
    await process_pending(runtime)
    async with runtime.database.unit_of_work() as session:
        conversation_id = await session.scalar(
            select(Conversation.id).join(Conversation.contact).order_by(Conversation.id.desc())
        )
        assert conversation_id is not None
        actor = Actor.of(world.agent)
        conversation = await access_conversation(session, actor, conversation_id)
        message = await send_reply(session, actor, conversation, text=text, visibility=Visibility.PUBLIC)
        return message.id


async def test_after_an_ambiguous_failure_the_sender_looks_before_posting_again(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient
) -> None:
    text = "We have reversed the failed transfer for you."
    message_id = await _queued_reply(runtime, world, xsim, "amb", text)
    clients = XClientPool(runtime.cipher)
    try:
        # An earlier attempt reached X, but the worker died before recording it.
        async with runtime.database.reader() as session:
            message = await session.get_one(Message, message_id)
            conversation = await session.get_one(Conversation, message.conversation_id)
            customer_tweet = await session.scalar(
                select(Message.external_id).where(
                    Message.conversation_id == conversation.id, Message.direction == "inbound"
                )
            )
        landed = await deliver(
            clients.client_for(world.account),
            PublicReply(
                text=text,
                thread_key=conversation.thread_key,
                in_reply_to=customer_tweet,
                brand_handle="ExampleBankHelp",
            ),
        )
        # What the crash leaves behind: one attempt made, its request marked as possibly sent.
        async with runtime.database.unit_of_work() as session:
            await session.execute(
                update(OutboxItem)
                .where(OutboxItem.message_id == message_id)
                .values(attempts=1, uncertain=True)
            )
        assert await send_due(runtime.database, clients) == 1
    finally:
        await clients.aclose()
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
    assert message.delivery_status is DeliveryStatus.SENT and message.external_id == landed.external_id
    tweets = (await xsim.get("/_sim/tweets", params={"conversation_id": conversation.thread_key})).json()[
        "tweets"
    ]
    assert [t["text"] for t in tweets].count(text) == 1


async def test_a_rate_limited_reply_waits_for_the_window_instead_of_failing(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient
) -> None:
    message_id = await _queued_reply(runtime, world, xsim, "rl", "Thanks for waiting, all sorted.")
    config = (await xsim.get("/_sim/config")).json()
    limits = config["rate_limits"]
    await xsim.post("/_sim/config", json={"rate_limits": {**limits, "post_tweet_user": 1}})
    clients = XClientPool(runtime.cipher)
    try:
        client = clients.client_for(world.account)
        with pytest.raises(XApiError):  # use up the window, whatever is left of it
            for _ in range(3):
                await client.create_tweet(f"filler {_} {message_id}")
        assert await send_due(runtime.database, clients) == 1
    finally:
        await clients.aclose()
        await xsim.post("/_sim/config", json={"rate_limits": limits})
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
        outbox = (await session.scalars(select(OutboxItem).where(OutboxItem.message_id == message_id))).one()
    assert message.delivery_status is DeliveryStatus.QUEUED
    assert outbox.last_error is not None and "429" in outbox.last_error
    assert outbox.next_attempt_at > message.created_at


async def test_a_thread_polled_at_once_keeps_its_customer_and_latest_preview(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient
) -> None:
    """X pages are newest first; the root's author stays the conversation's contact, the newest
    post is the preview, and a reply goes to the customer's tweet, not a bystander's."""
    customer, bystander = await _customers(xsim, 2, "thr")
    root = await _mention(xsim, customer, "my card was swallowed by the ATM")
    response = await xsim.post(
        "/2/tweets",
        json={"text": "@ExampleBankHelp same happened to me", "reply": {"in_reply_to_tweet_id": root}},
        headers={"Authorization": f"Bearer {bystander}"},
    )
    assert response.status_code == 201
    clients = XClientPool(runtime.cipher)
    try:
        await poll_mentions(runtime.database, clients.client_for(world.account), world.account)
        await process_pending(runtime)
        async with runtime.database.unit_of_work() as session:
            conversation = (
                await session.scalars(select(Conversation).where(Conversation.thread_key == root))
            ).one()
            assert conversation.contact.display_name == "Customer 0"
            assert conversation.preview == "@ExampleBankHelp same happened to me"
            actor = Actor.of(world.agent)
            await send_reply(
                session,
                actor,
                conversation,
                text="Sorry! A new card is on its way.",
                visibility=Visibility.PUBLIC,
            )
        assert await send_due(runtime.database, clients) == 1
    finally:
        await clients.aclose()
    tweets = (await xsim.get("/_sim/tweets", params={"conversation_id": root})).json()["tweets"]
    answer = next(t for t in tweets if t["author_username"] == "ExampleBankHelp")
    assert answer["in_reply_to_tweet_id"] == root


async def test_the_same_words_twice_are_not_mistaken_for_an_earlier_delivery(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient
) -> None:
    first_id = await _queued_reply(runtime, world, xsim, "same", "Thanks, we're on it.")
    clients = XClientPool(runtime.cipher)
    try:
        assert await send_due(runtime.database, clients) == 1
        async with runtime.database.unit_of_work() as session:
            first = await session.get_one(Message, first_id)
            actor = Actor.of(world.agent)
            conversation = await access_conversation(session, actor, first.conversation_id)
            second = await send_reply(
                session, actor, conversation, text="Thanks, we're on it.", visibility=Visibility.PUBLIC
            )
            await session.flush()
            await session.execute(
                update(OutboxItem).where(OutboxItem.message_id == second.id).values(uncertain=True)
            )
        assert await send_due(runtime.database, clients) == 1
    finally:
        await clients.aclose()
    async with runtime.database.reader() as session:
        first, repeated = await session.get_one(Message, first_id), await session.get_one(Message, second.id)
    # The earlier tweet is the first message's, not this one's: X is asked, and refuses a duplicate.
    assert first.delivery_status is DeliveryStatus.SENT
    assert repeated.delivery_status is DeliveryStatus.FAILED and repeated.external_id is None
    assert "duplicate content" in (repeated.failure_reason or "")
