"""One timeline, two visibilities, against a real xsim: DMs in, DMs out, and a private message never
on a public path; plus per-account rate-limit pauses and the spend meter."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from sqlalchemy import select, update

from haven.alerts.service import USAGE_CAP, open_alerts
from haven.channels.x.account import XClientPool
from haven.channels.x.delivery import PrivateMessage, deliver
from haven.channels.x.poller import poll_dms, poll_mentions
from haven.conversations.repository import access_conversation
from haven.inbound.pipeline import process_pending
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.messages.service import send_reply
from haven.models import (
    ChannelAccount,
    ContactIdentity,
    Conversation,
    DeliveryStatus,
    InboundEvent,
    Message,
    OutboxItem,
    Visibility,
)
from haven.runtime import Runtime
from haven.usage import service as usage
from haven.workers.outbox import send_due
from tests.e2e.conftest import BRAND_ID
from tests.factories import World


@pytest.fixture
async def clients(runtime: Runtime) -> AsyncIterator[XClientPool]:
    pool = XClientPool(runtime.cipher)
    yield pool
    await pool.aclose()


async def _customer(xsim: httpx.AsyncClient, username: str) -> tuple[str, str]:
    response = await xsim.post("/_sim/users", json={"username": username})
    assert response.status_code == 201, response.text
    return response.json()["id"], response.json()["access_token"]


def _as(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _tweet(xsim: httpx.AsyncClient, token: str, text: str) -> str:
    response = await xsim.post("/2/tweets", json={"text": f"@ExampleBankHelp {text}"}, headers=_as(token))
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def _dm_brand(xsim: httpx.AsyncClient, token: str, text: str) -> str:
    response = await xsim.post(
        f"/2/dm_conversations/with/{BRAND_ID}/messages", json={"text": text}, headers=_as(token)
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["dm_event_id"])


async def _ingest(runtime: Runtime, clients: XClientPool, world: World) -> None:
    client = clients.client_for(world.account)
    await poll_mentions(runtime.database, client, world.account)
    await poll_dms(runtime.database, client, world.account)
    await process_pending(runtime)


async def _conversation_of(runtime: Runtime, username: str) -> int:
    """The conversation of one customer (xsim is shared, so other tests' customers are polled too)."""
    async with runtime.database.reader() as session:
        [conversation_id] = (
            await session.scalars(
                select(Conversation.id)
                .join(ContactIdentity, ContactIdentity.contact_id == Conversation.contact_id)
                .where(ContactIdentity.handle == username)
            )
        ).all()
    return conversation_id


async def _reply(
    runtime: Runtime, world: World, conversation_id: int, text: str, visibility: Visibility
) -> int:
    async with runtime.database.unit_of_work() as session:
        actor = Actor.of(world.agent)
        conversation = await access_conversation(session, actor, conversation_id)
        message = await send_reply(session, actor, conversation, text=text, visibility=visibility)
        return message.id


async def _brand_output(xsim: httpx.AsyncClient, customer_id: str) -> tuple[list[str], list[str]]:
    """Texts the brand posted as tweets (anywhere) and sent as DMs to this customer."""
    tweets = (await xsim.get("/_sim/tweets", params={"author": "ExampleBankHelp"})).json()
    dms = (await xsim.get("/_sim/dms", params={"participant": customer_id})).json()["dm_events"]
    return (
        [t["text"] for t in tweets["tweets"]],
        [d["text"] for d in dms if d["sender_id"] == BRAND_ID],
    )


async def test_a_customers_tweet_and_dms_are_one_timeline(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    _, token = await _customer(xsim, "onetimeline")
    tweet_id = await _tweet(xsim, token, "my card was declined twice")
    dm_id = await _dm_brand(xsim, token, "Here are the details you asked for")
    await _ingest(runtime, clients, world)
    # The brand's own DM echo comes back through dm_events; it must not become a customer message.
    conversation_id = await _conversation_of(runtime, "onetimeline")
    await _reply(runtime, world, conversation_id, "Thanks, we'll look into it privately.", Visibility.PRIVATE)
    assert await send_due(runtime.database, clients) == 1
    await _ingest(runtime, clients, world)

    async with runtime.database.reader() as session:
        messages = (
            await session.scalars(
                select(Message).where(Message.conversation_id == conversation_id).order_by(Message.id)
            )
        ).all()
        echoes = (
            await session.scalars(select(InboundEvent.outcome).where(InboundEvent.source == "dms"))
        ).all()
    assert [(m.external_id, m.visibility, m.direction.value) for m in messages[:2]] == [
        (tweet_id, Visibility.PUBLIC, "inbound"),
        (dm_id, Visibility.PRIVATE, "inbound"),
    ]
    assert messages[2].visibility is Visibility.PRIVATE and messages[2].delivery_status is DeliveryStatus.SENT
    assert len(messages) == 3
    assert "ignored: the brand's own message" in echoes


async def test_private_messages_only_ever_travel_as_dms(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    """Mixed public and private replies, delivered by the real sender: each lands on its own path."""
    customer_id, token = await _customer(xsim, "twopaths")
    await _tweet(xsim, token, "how do I close my account?")
    await _ingest(runtime, clients, world)
    conversation_id = await _conversation_of(runtime, "twopaths")
    plan = [
        (
            f"{'public' if n % 3 else 'private'} answer {n}",
            Visibility.PRIVATE if n % 3 == 0 else Visibility.PUBLIC,
        )
        for n in range(9)
    ]
    for text, visibility in plan:
        await _reply(runtime, world, conversation_id, text, visibility)
    while await send_due(runtime.database, clients):
        pass
    tweets, dms = await _brand_output(xsim, customer_id)
    private = {text for text, visibility in plan if visibility is Visibility.PRIVATE}
    public = {text for text, visibility in plan if visibility is Visibility.PUBLIC}
    assert private == set(dms) and private.isdisjoint(tweets)
    assert public <= set(tweets) and public.isdisjoint(dms)


async def test_a_dm_that_may_have_landed_is_looked_for_before_it_is_sent_again(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    customer_id, token = await _customer(xsim, "lookfirst")
    await _dm_brand(xsim, token, "hello, private question")
    await _ingest(runtime, clients, world)
    conversation_id = await _conversation_of(runtime, "lookfirst")
    text = "We have sent the form to your registered address."
    message_id = await _reply(runtime, world, conversation_id, text, Visibility.PRIVATE)
    # An earlier attempt reached X, but the worker died before recording it.
    landed = await deliver(clients.client_for(world.account), PrivateMessage(text, customer_id, BRAND_ID))
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(OutboxItem).where(OutboxItem.message_id == message_id).values(attempts=1, uncertain=True)
        )
    assert await send_due(runtime.database, clients) == 1
    _, dms = await _brand_output(xsim, customer_id)
    assert dms.count(text) == 1
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
    assert message.delivery_status is DeliveryStatus.SENT and message.external_id == landed.external_id


async def test_a_refused_dm_fails_visibly_and_can_be_retried(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    _, token = await _customer(xsim, "nodms")
    await _tweet(xsim, token, "please help")
    await _ingest(runtime, clients, world)
    assert (await xsim.patch("/_sim/users/nodms", json={"accepts_dms": False})).status_code == 200
    conversation_id = await _conversation_of(runtime, "nodms")
    message_id = await _reply(
        runtime, world, conversation_id, "Let's continue in private.", Visibility.PRIVATE
    )
    await send_due(runtime.database, clients)
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
    assert message.delivery_status is DeliveryStatus.FAILED and "403" in (message.failure_reason or "")

    from haven.messages.service import retry_delivery

    assert (await xsim.patch("/_sim/users/nodms", json={"accepts_dms": True})).status_code == 200
    async with runtime.database.unit_of_work() as session:
        conversation = await access_conversation(session, Actor.of(world.agent), conversation_id)
        await retry_delivery(session, Actor.of(world.agent), conversation, message_id)
    assert await send_due(runtime.database, clients) == 1
    async with runtime.database.reader() as session:
        message = await session.get_one(Message, message_id)
    assert message.delivery_status is DeliveryStatus.SENT


async def test_a_used_up_window_pauses_the_account_not_the_message(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    _, token = await _customer(xsim, "ratelimited")
    await _tweet(xsim, token, "anyone there?")
    await _ingest(runtime, clients, world)
    conversation_id = await _conversation_of(runtime, "ratelimited")
    config = (await xsim.get("/_sim/config")).json()
    await xsim.post("/_sim/config", json={"rate_limits": {"post_tweet_user": 1}})
    try:
        ids = [
            await _reply(runtime, world, conversation_id, f"answer {n}", Visibility.PUBLIC) for n in range(3)
        ]
        while await send_due(runtime.database, clients):
            pass
    finally:
        await xsim.post("/_sim/config", json={"rate_limits": config["rate_limits"]})
    async with runtime.database.reader() as session:
        account = await session.get_one(ChannelAccount, world.account.id)
        statuses = [(await session.get_one(Message, i)).delivery_status for i in ids]
        items = (await session.scalars(select(OutboxItem).where(OutboxItem.message_id.in_(ids)))).all()
    # xsim's window may already have been partly used by earlier tests: at most one went out.
    assert statuses.count(DeliveryStatus.SENT) <= 1 and DeliveryStatus.FAILED not in statuses
    assert account.send_paused_until is not None and account.send_paused_until > utcnow()
    assert all(item.attempts <= 1 for item in items)


async def test_reads_and_writes_are_metered_with_an_estimated_spend(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    _, token = await _customer(xsim, "metered")
    await _tweet(xsim, token, "what are your opening hours?")
    await _ingest(runtime, clients, world)
    conversation_id = await _conversation_of(runtime, "metered")
    await _reply(runtime, world, conversation_id, "See https://bank.example/hours", Visibility.PUBLIC)
    await _reply(runtime, world, conversation_id, "We open at nine.", Visibility.PUBLIC)
    while await send_due(runtime.database, clients):
        pass
    async with runtime.database.unit_of_work() as session:
        for account_id, counts in clients.drain_usage().items():
            await usage.flush(session, account_id, counts)
    async with runtime.database.reader() as session:
        report = await usage.report(
            session, brand_id=world.brand.id, since=utcnow().date(), prices=runtime.settings.x_prices
        )
    lines = {line.operation: line for line in report.lines}
    assert lines["post.read"].resources >= 1 and lines["post.create"].resources == 1
    assert lines["post.create.link"].resources == 1
    assert lines["post.create.link"].spend > 10 * lines["post.create"].spend
    assert report.total_spend == pytest.approx(sum(line.spend for line in report.lines))


async def test_a_usage_cap_stops_sending_and_alerts_supervisors(
    runtime: Runtime, world: World, xsim: httpx.AsyncClient, clients: XClientPool
) -> None:
    _, token = await _customer(xsim, "capreached")
    await _tweet(xsim, token, "is anyone answering?")
    await _ingest(runtime, clients, world)
    conversation_id = await _conversation_of(runtime, "capreached")
    await xsim.post("/_sim/config", json={"post_usage_cap": 0})
    try:
        first = await _reply(runtime, world, conversation_id, "We are here.", Visibility.PUBLIC)
        second = await _reply(runtime, world, conversation_id, "Sent you a DM.", Visibility.PRIVATE)
        while await send_due(runtime.database, clients):
            pass
        async with runtime.database.reader() as session:
            account = await session.get_one(ChannelAccount, world.account.id)
            statuses = [(await session.get_one(Message, i)).delivery_status for i in (first, second)]
            alerts = await open_alerts(session, world.brand.id)
        assert statuses == [DeliveryStatus.QUEUED, DeliveryStatus.QUEUED]
        assert account.send_paused_until is not None and account.send_paused_until.day == 1
        assert [a.kind for a in alerts] == [USAGE_CAP] and "@ExampleBankHelp" in alerts[0].detail
    finally:
        await xsim.post("/_sim/config", json={"post_usage_cap": -1})
    # The period ends: sending resumes where it stopped, nothing lost, nothing failed.
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount).where(ChannelAccount.id == world.account.id).values(send_paused_until=None)
        )
        await session.execute(update(OutboxItem).values(next_attempt_at=utcnow()))
    while await send_due(runtime.database, clients):
        pass
    async with runtime.database.reader() as session:
        statuses = [(await session.get_one(Message, i)).delivery_status for i in (first, second)]
    assert statuses == [DeliveryStatus.SENT, DeliveryStatus.SENT]
