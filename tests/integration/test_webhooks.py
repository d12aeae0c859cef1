"""The webhook receiver in the real app on a real database: CRC, signatures over the raw body, size
and shape limits, routing by for_user_id, store-once, echoes, threading of v1.1 replies."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from haven.channels.x.webhooks import MAX_DELIVERY_BYTES, SIGNATURE_HEADER, app_id, crc_response, sign
from haven.inbound.pipeline import process_pending
from haven.inbound.store import store_raw_events
from haven.models import ChannelAccount, Conversation, InboundEvent, Message, Visibility
from haven.runtime import Runtime
from tests.factories import CREDENTIALS, World, next_id, tweet_event
from tests.integration.web import console_client

APP = app_id(CREDENTIALS.consumer_key)
HOOK = f"/hooks/x/{APP}"
V1_TIME = "Mon May 19 14:01:46 +0000 2025"


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    async with console_client(runtime) as http:
        yield http


async def _webhooks_on(runtime: Runtime, account: ChannelAccount, on: bool = True) -> None:
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == account.id)
            .values(settings={"ingest": {"webhooks": on}})
        )


@pytest.fixture
async def hooked(runtime: Runtime, world: World) -> World:
    """The world, with webhooks switched on for its brand account."""
    await _webhooks_on(runtime, world.account)
    return world


def v1_tweet(
    author: str,
    *,
    text: str = "@ExampleBankHelp my card is lost",
    tweet_id: str | None = None,
    reply_to: str | None = None,
    reply_to_user: str | None = None,
    mentions: tuple[str, ...] = (),
) -> dict[str, Any]:
    tweet_id = tweet_id or next_id()
    return {
        "created_at": V1_TIME,
        "id": int(tweet_id),
        "id_str": tweet_id,
        "text": text,
        "truncated": False,
        "in_reply_to_status_id_str": reply_to,
        "in_reply_to_user_id_str": reply_to_user,
        "user": {"id_str": author, "name": "Jordan", "screen_name": f"user{author[-4:]}"},
        "timestamp_ms": "1747663306000",
        "entities": {"user_mentions": [{"id_str": m, "screen_name": "x"} for m in mentions]},
    }


def v1_dm(sender: str, recipient: str, text: str = "my account number is 12345678") -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": next_id(),
        "created_timestamp": "1747663306123",
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "message_data": {"text": text, "entities": {}},
        },
    }


async def deliver(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    *,
    secret: str = CREDENTIALS.consumer_secret,
    signature: str | None = None,
    hook: str = HOOK,
) -> httpx.Response:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"content-type": "application/json", SIGNATURE_HEADER: signature or sign(secret, raw)}
    return await client.post(hook, content=raw, headers=headers)


async def _events(runtime: Runtime) -> list[InboundEvent]:
    async with runtime.database.reader() as session:
        return list((await session.scalars(select(InboundEvent).order_by(InboundEvent.id))).all())


async def _message(runtime: Runtime, external_id: str) -> Message | None:
    async with runtime.database.reader() as session:
        return await session.scalar(select(Message).where(Message.external_id == external_id))


async def _thread_of(runtime: Runtime, external_id: str) -> str:
    async with runtime.database.reader() as session:
        thread_key = await session.scalar(
            select(Conversation.thread_key)
            .join(Message, Message.conversation_id == Conversation.id)
            .where(Message.external_id == external_id)
        )
    assert thread_key is not None, "no message for that post"
    return thread_key


# --- CRC ------------------------------------------------------------------------------------------


async def test_the_crc_is_answered_with_the_apps_consumer_secret(
    client: httpx.AsyncClient, world: World
) -> None:
    response = await client.get(HOOK, params={"crc_token": "challenge_string"})
    assert response.status_code == 200
    assert response.json() == {
        "response_token": crc_response(CREDENTIALS.consumer_secret, "challenge_string")
    }
    # No cookie is needed or set: the HMAC is the authentication.
    assert "set-cookie" not in response.headers


async def test_crc_refusals(client: httpx.AsyncClient, world: World) -> None:
    for url, status in [
        (HOOK, 400),
        (f"{HOOK}?crc_token=", 400),
        (f"{HOOK}?crc_token={'x' * 600}", 400),
        ("/hooks/x/0123456789abcdef?crc_token=abc", 404),
        ("/hooks/x/not-an-app?crc_token=abc", 404),
    ]:
        response = await client.get(url)
        assert response.status_code == status, url
        assert response.headers["content-type"] == "application/json"
        assert "response_token" not in response.json()


async def test_an_inactive_accounts_app_is_unknown(
    runtime: Runtime, client: httpx.AsyncClient, world: World
) -> None:
    async with runtime.database.unit_of_work() as session:
        await session.execute(update(ChannelAccount).values(active=False))
    assert (await client.get(HOOK, params={"crc_token": "abc"})).status_code == 404


async def test_one_unreadable_account_does_not_take_the_hook_down(
    runtime: Runtime, client: httpx.AsyncClient, world: World, caplog: pytest.LogCaptureFixture
) -> None:
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == world.other_account.id)
            .values(credentials_encrypted="v1.retired.garbage")
        )
    response = await client.get(HOOK, params={"crc_token": "abc"})
    assert response.status_code == 200
    assert f"credentials of X account {world.other_account.id} cannot be opened" in caplog.text


# --- deliveries -----------------------------------------------------------------------------------


async def test_a_signed_mention_is_stored_then_becomes_a_message(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    brand = hooked.account.external_user_id
    tweet = v1_tweet(next_id(), mentions=(brand,))
    with runtime.bus.subscribe() as subscription:
        response = await deliver(client, {"for_user_id": brand, "tweet_create_events": [tweet]})
        notice = await asyncio.wait_for(subscription.get(), timeout=5)
    assert response.status_code == 200 and response.json() == {"stored": 1}
    # Stored before the answer, and the pipeline is told at once (it would find it within a second).
    assert notice is not None and notice.type == "inbound.stored"
    assert notice.data == {"channel_account_id": hooked.account.id}
    [event] = await _events(runtime)
    assert (event.source, event.external_id, event.processed_at) == ("webhook", tweet["id_str"], None)

    await process_pending(runtime)
    message = await _message(runtime, tweet["id_str"])
    assert message is not None and message.visibility is Visibility.PUBLIC
    assert message.text == tweet["text"]
    assert await _thread_of(runtime, tweet["id_str"]) == tweet["id_str"]


async def test_a_dm_becomes_a_private_message(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    brand, customer = hooked.account.external_user_id, next_id()
    dm = v1_dm(customer, brand)
    users = {customer: {"id": customer, "name": "Jordan", "screen_name": "jordan"}}
    response = await deliver(client, {"for_user_id": brand, "direct_message_events": [dm], "users": users})
    assert response.status_code == 200
    await process_pending(runtime)
    message = await _message(runtime, dm["id"])
    assert message is not None and message.visibility is Visibility.PRIVATE
    low, high = sorted((brand, customer), key=int)
    assert await _thread_of(runtime, dm["id"]) == f"dm:{low}-{high}"


async def test_echoes_of_the_brand_are_stored_but_never_become_messages(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    brand, customer = hooked.account.external_user_id, next_id()
    own_tweet = v1_tweet(brand, text="We are here to help")
    own_dm = v1_dm(brand, customer, text="Please check your card")
    for body in (
        {"for_user_id": brand, "tweet_create_events": [own_tweet]},
        {"for_user_id": brand, "direct_message_events": [own_dm], "users": {}},
    ):
        assert (await deliver(client, body)).status_code == 200
    await process_pending(runtime)
    outcomes = {event.external_id: event.outcome for event in await _events(runtime)}
    assert outcomes == {
        own_tweet["id_str"]: "ignored: the brand's own post",
        own_dm["id"]: "ignored: the brand's own message",
    }
    assert await _message(runtime, own_tweet["id_str"]) is None
    assert await _message(runtime, own_dm["id"]) is None


async def test_a_duplicated_delivery_stays_one_message(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    brand = hooked.account.external_user_id
    tweet = v1_tweet(next_id(), mentions=(brand,))
    # The same event twice in one delivery, and the delivery itself several times.
    body = {"for_user_id": brand, "tweet_create_events": [tweet, tweet]}
    for _ in range(3):
        assert (await deliver(client, body)).status_code == 200
    await process_pending(runtime)
    assert (await deliver(client, body)).status_code == 200
    await process_pending(runtime)
    assert len(await _events(runtime)) == 1
    async with runtime.database.reader() as session:
        assert len((await session.scalars(select(Message))).all()) == 1


async def test_a_post_seen_by_polling_and_by_webhook_is_stored_once(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    brand, customer = hooked.account.external_user_id, next_id()
    polled = tweet_event(author_id=customer)
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, hooked.account.id, "mentions", [polled])
    tweet = v1_tweet(customer, tweet_id=polled.external_id, mentions=(brand,))
    assert (await deliver(client, {"for_user_id": brand, "tweet_create_events": [tweet]})).status_code == 200
    await process_pending(runtime)
    [event] = await _events(runtime)
    assert event.source == "mentions"
    assert await _message(runtime, polled.external_id) is not None


async def test_routing_by_for_user_id(runtime: Runtime, client: httpx.AsyncClient, hooked: World) -> None:
    other = hooked.other_account  # the same X app, another brand, webhooks off
    tweet = v1_tweet(next_id())
    for for_user_id in (next_id(), other.external_user_id):
        response = await deliver(client, {"for_user_id": for_user_id, "tweet_create_events": [tweet]})
        # Answered 200 all the same, so that X does not retry forever; nothing is stored.
        assert response.status_code == 200 and response.json() == {"stored": 0}
    assert await _events(runtime) == []

    await _webhooks_on(runtime, other)
    response = await deliver(client, {"for_user_id": other.external_user_id, "tweet_create_events": [tweet]})
    assert response.json() == {"stored": 1}
    [event] = await _events(runtime)
    assert event.channel_account_id == other.id


async def test_non_conversation_events_are_answered_and_not_stored(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World, caplog: pytest.LogCaptureFixture
) -> None:
    brand = hooked.account.external_user_id
    body = {
        "for_user_id": brand,
        "favorite_events": [{"id": "1", "favorited_status": {"text": "secret words"}}],
        "tweet_delete_events": [
            {"status": {"id": "601430178305220608", "user_id": "1"}, "timestamp_ms": "1"}
        ],
    }
    with caplog.at_level(logging.INFO, logger="haven.web.hooks"):
        response = await deliver(client, body)
        revoke = {
            "user_event": {"revoke": {"date_time": "2025-01-01T00:00:00Z", "source": {"user_id": brand}}}
        }
        assert (await deliver(client, revoke)).status_code == 200
    assert response.status_code == 200 and response.json() == {"stored": 0}
    assert await _events(runtime) == []
    assert "601430178305220608" in caplog.text and "favorite_events=1" in caplog.text
    assert "revoked" in caplog.text and "secret words" not in caplog.text


# --- refusals -------------------------------------------------------------------------------------


async def test_bad_or_missing_signatures_are_refused(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    raw = json.dumps({"for_user_id": hooked.account.external_user_id, "tweet_create_events": [v1_tweet("1")]})
    for signature in (b"", b"sha256=AAAA", b"sha256=" + b"A" * 43 + b"=", b"sha256=\xe9\xff"):
        headers = {b"content-type": b"application/json"}
        if signature:
            headers[SIGNATURE_HEADER.encode()] = signature
        response = await client.post(HOOK, content=raw.encode(), headers=headers)
        assert response.status_code == 401, signature
    assert await _events(runtime) == []


async def test_the_signature_must_cover_the_raw_bytes_with_this_apps_secret(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    body = {"for_user_id": hooked.account.external_user_id, "tweet_create_events": [v1_tweet("1")]}
    raw = json.dumps(body).encode()
    reformatted = json.dumps(body, indent=2).encode()  # the same JSON, other bytes
    assert (
        await deliver(client, reformatted, signature=sign(CREDENTIALS.consumer_secret, raw))
    ).status_code == 401
    assert (await deliver(client, raw, secret="another app's secret")).status_code == 401
    assert await _events(runtime) == []


async def test_oversized_malformed_and_misaddressed_deliveries(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World, caplog: pytest.LogCaptureFixture
) -> None:
    brand = hooked.account.external_user_id
    big = json.dumps({"for_user_id": brand, "pad": "SECRET" * (MAX_DELIVERY_BYTES // 6)}).encode()
    with caplog.at_level(logging.INFO, logger="haven.web.hooks"):
        assert (await deliver(client, big)).status_code == 413
        assert (await deliver(client, b'{"for_user_id": "1", SECRET')).status_code == 400
        assert (await deliver(client, b'["SECRET"]')).status_code == 400
        assert (await deliver(client, {"for_user_id": "SECRET"})).status_code == 400
        assert (
            await deliver(client, {"for_user_id": brand}, hook="/hooks/x/0123456789abcdef")
        ).status_code == 404
    assert await _events(runtime) == []
    assert "SECRET" not in caplog.text
    assert "larger than" in caplog.text and "not JSON" in caplog.text and "for_user_id" in caplog.text
    wrong_method = await client.put(HOOK, content=b"{}")
    assert wrong_method.status_code == 405 and wrong_method.headers["content-type"] == "application/json"


async def test_csrf_and_origin_checks_do_not_apply_to_the_hmac_authenticated_hook(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    body = {"for_user_id": hooked.account.external_user_id, "tweet_create_events": [v1_tweet(next_id())]}
    raw = json.dumps(body).encode()
    headers = {
        SIGNATURE_HEADER: sign(CREDENTIALS.consumer_secret, raw),
        "origin": "https://evil.example",
        "content-type": "application/json",
    }
    response = await client.post(HOOK, content=raw, headers=headers)
    assert response.status_code == 200 and response.json() == {"stored": 1}


# --- v1.1 threading -------------------------------------------------------------------------------


async def test_v1_replies_join_the_conversation_of_the_post_they_answer(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    brand, customer = hooked.account.external_user_id, next_id()

    async def send(tweet: dict[str, Any]) -> None:
        assert (
            await deliver(client, {"for_user_id": brand, "tweet_create_events": [tweet]})
        ).status_code == 200
        await process_pending(runtime)

    # 1. A root, then the customer's own follow-up: the follow-up joins the root's conversation.
    root = v1_tweet(customer, mentions=(brand,))
    await send(root)
    follow_up = v1_tweet(customer, reply_to=root["id_str"], reply_to_user=customer, mentions=(brand,))
    await send(follow_up)
    assert await _thread_of(runtime, follow_up["id_str"]) == root["id_str"]

    # 2. The brand answered on X itself: the echo is stored (not a message); the customer's reply to
    #    it walks up through the stored echo to the root's conversation.
    echo = v1_tweet(brand, text="@user sorry!", reply_to=follow_up["id_str"], reply_to_user=customer)
    await send(echo)
    answer = v1_tweet(customer, reply_to=echo["id_str"], reply_to_user=brand)
    await send(answer)
    assert await _thread_of(runtime, answer["id_str"]) == root["id_str"]
    message = await _message(runtime, answer["id_str"])
    assert message is not None and message.in_reply_to_external_id == echo["id_str"]

    # 3. A reply to a post Haven polled (v2, with its conversation id) joins that conversation.
    polled = tweet_event(author_id=customer, conversation_id="1700000000000000001")
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, hooked.account.id, "mentions", [polled])
    await process_pending(runtime)
    late = v1_tweet(customer, reply_to=polled.external_id, reply_to_user=customer, mentions=(brand,))
    await send(late)
    assert await _thread_of(runtime, late["id_str"]) == "1700000000000000001"

    # 4. A reply to a post Haven never saw: the parent's id stands in for the conversation id.
    unknown_parent = next_id()
    stranger = v1_tweet(next_id(), reply_to=unknown_parent, reply_to_user=brand)
    await send(stranger)
    assert await _thread_of(runtime, stranger["id_str"]) == unknown_parent


async def test_a_v1_reply_to_a_stored_post_that_did_not_open_a_conversation(
    runtime: Runtime, client: httpx.AsyncClient, hooked: World
) -> None:
    """A keyword post is stored but opens nothing here; a reply to it still threads by its root."""
    brand, customer = hooked.account.external_user_id, next_id()
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == hooked.account.id)
            .values(settings={"ingest": {"webhooks": True}, "open_on": ["mention", "reply", "dm"]})
        )
    keyword = v1_tweet(customer, text="ExampleBank app is down again")
    mention = v1_tweet(next_id(), reply_to=keyword["id_str"], reply_to_user=customer, mentions=(brand,))
    for tweet in (keyword, mention):
        assert (
            await deliver(client, {"for_user_id": brand, "tweet_create_events": [tweet]})
        ).status_code == 200
    await process_pending(runtime)
    assert await _message(runtime, keyword["id_str"]) is None
    assert await _thread_of(runtime, mention["id_str"]) == keyword["id_str"]
