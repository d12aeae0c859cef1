"""Account Activity webhooks over real sockets: xsim registers Haven's hook after a CRC, then POSTs
signed v1.1 deliveries to it. `haven x webhook …` runs as a child process.

Haven here is this test's own app, served by uvicorn in the test's event loop on the test database,
with every polling path off: whatever becomes a message came by webhook.
"""

from __future__ import annotations

import asyncio
import os
import re
import sys
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update

from haven.app import create_app
from haven.channels.x import webhook_admin
from haven.channels.x.account import open_credentials
from haven.channels.x.client import XClient
from haven.inbound.pipeline import process_pending
from haven.models import ChannelAccount, InboundEvent, Message, Visibility
from haven.runtime import Runtime
from tests.e2e.conftest import Stack
from tests.factories import World, make_world
from tests.support import eventually, serving

BRAND_ID = "1500000000000000001"


@pytest.fixture
async def world(runtime: Runtime, stack: Stack, empty_database: None) -> World:
    world = await make_world(
        runtime, api_base_url=stack.xsim_url, credentials=stack.credentials, brand_user_id=BRAND_ID
    )
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == world.account.id)
            .values(settings={"ingest": {"mentions": False, "dms": False, "webhooks": False}})
        )
    return world


@pytest.fixture
async def haven_url(runtime: Runtime) -> AsyncIterator[str]:
    """This test's Haven, on a real socket in this event loop (so xsim's CRC can reach it)."""
    async with serving(create_app(runtime=runtime)) as url:
        yield url


@pytest.fixture
async def xsim(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.xsim_url, timeout=10) as client:
        yield client


@pytest.fixture
async def registered(runtime: Runtime, world: World, haven_url: str) -> AsyncIterator[str]:
    """Haven's webhook registered with xsim and the brand subscribed (without the CLI, for speed)."""
    async with runtime.database.unit_of_work() as session:
        account = await session.get_one(ChannelAccount, world.account.id)
        done = await webhook_admin.register(session, runtime.cipher, account, haven_url, enable=True)
    try:
        yield done.webhook_id
    finally:
        await webhook_admin.remove_webhook(runtime.cipher, world.account, done.webhook_id)


async def haven_cli(runtime: Runtime, haven_url: str, *args: str) -> tuple[int, str]:
    """`haven …` as a child process, awaited without blocking this loop (it serves the CRC)."""
    env = {
        **os.environ,
        "HAVEN_DATABASE_URL": runtime.settings.database_url,
        "HAVEN_PUBLIC_BASE_URL": haven_url,
        "COLUMNS": "250",
    }
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "haven",
        *args,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def _customer(xsim: httpx.AsyncClient, username: str) -> tuple[str, str]:
    response = await xsim.post("/_sim/users", json={"username": username, "name": "Jordan Customer"})
    assert response.status_code == 201, response.text
    body = response.json()
    return str(body["id"]), str(body["access_token"])


async def _tweet(xsim: httpx.AsyncClient, token: str, text: str) -> str:
    response = await xsim.post("/2/tweets", json={"text": text}, headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def _dm(xsim: httpx.AsyncClient, username: str, text: str) -> str:
    response = await xsim.post("/_sim/dms", json={"from_username": username, "text": text})
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["dm_event_id"])


async def _stored(runtime: Runtime, *external_ids: str) -> list[InboundEvent]:
    """Wait until every post has been stored by Haven's hook; return their events."""

    async def probe() -> list[InboundEvent] | None:
        async with runtime.database.reader() as session:
            events = (
                await session.scalars(select(InboundEvent).where(InboundEvent.external_id.in_(external_ids)))
            ).all()
        return list(events) if len(events) == len(external_ids) else None

    return await eventually(probe, within=10)


async def _messages(runtime: Runtime) -> dict[str, Message]:
    async with runtime.database.reader() as session:
        return {m.external_id or "": m for m in (await session.scalars(select(Message))).all()}


async def _deliveries(xsim: httpx.AsyncClient, event_id: str) -> list[dict[str, Any]]:
    recent = (await xsim.get("/_sim/webhooks")).json()["recent"]
    return [record for record in recent if record["event_id"] == event_id]


async def test_the_cli_registers_then_mentions_and_dms_arrive_by_webhook_and_echoes_do_not(
    runtime: Runtime, world: World, haven_url: str, xsim: httpx.AsyncClient
) -> None:
    code, output = await haven_cli(
        runtime, haven_url, "x", "webhook", "register", "--account", "@ExampleBankHelp"
    )
    assert code == 0, output
    match = re.search(r"Webhook (\d+)", output)
    assert match, output
    webhook_id = match.group(1)
    the_app_id = webhook_admin.account_app_id(runtime.cipher, world.account)
    assert f"{haven_url}/hooks/x/{the_app_id}" in output and "ingest.webhooks is on" in output
    try:
        state = (await xsim.get("/_sim/webhooks")).json()
        [hook] = [w for w in state["webhooks"] if w["id"] == webhook_id]
        assert hook["valid"] and hook["subscriptions"] == [BRAND_ID]
        code, output = await haven_cli(
            runtime, haven_url, "x", "webhook", "list", "--account", "examplebankhelp"
        )
        assert code == 0, output
        assert f"{webhook_id}  {haven_url}/hooks/x/{the_app_id}  valid, subscribed" in output

        customer_id, token = await _customer(xsim, "hookcustomer1")
        mention = await _tweet(xsim, token, "@ExampleBankHelp my card was swallowed by the ATM")
        dm = await _dm(xsim, "hookcustomer1", "The card number ends in 4242")
        brand = XClient(world.account.api_base_url, open_credentials(runtime.cipher, world.account))
        try:
            echo_tweet = (await brand.create_tweet("We are on it.", in_reply_to=mention)).id
            echo_dm = (await brand.send_dm(customer_id, "Thanks, we are checking.")).id
        finally:
            await brand.aclose()

        events = await _stored(runtime, mention, dm, echo_tweet, echo_dm)
        assert {event.source for event in events} == {"webhook"}
        await process_pending(runtime)
        messages = await _messages(runtime)
        assert set(messages) == {mention, dm}
        assert messages[mention].visibility is Visibility.PUBLIC
        assert messages[dm].visibility is Visibility.PRIVATE
        assert messages[dm].text == "The card number ends in 4242"
        outcomes = {event.external_id: event.outcome for event in await _stored(runtime, echo_tweet, echo_dm)}
        assert outcomes == {
            echo_tweet: "ignored: the brand's own post",
            echo_dm: "ignored: the brand's own message",
        }
    finally:
        code, output = await haven_cli(
            runtime, haven_url, "x", "webhook", "remove", "--id", webhook_id, "--account", "ExampleBankHelp"
        )
    assert code == 0, output
    assert (await xsim.get("/_sim/webhooks")).json()["webhooks"] == []


async def test_a_duplicated_delivery_stays_one_message_and_a_reply_joins_its_thread(
    runtime: Runtime, world: World, registered: str, xsim: httpx.AsyncClient
) -> None:
    _, token = await _customer(xsim, "hookcustomer2")
    assert (await xsim.post("/_sim/faults", json={"duplicate_rate": 1.0, "seed": 7})).status_code == 200
    try:
        root = await _tweet(xsim, token, "@ExampleBankHelp two charges for one coffee")

        async def sent_twice() -> list[dict[str, Any]] | None:
            records = await _deliveries(xsim, root)
            return records if len(records) == 2 else None

        records = await eventually(sent_twice, within=10)
        assert {r["outcome"] for r in records} == {"delivered"} and any(r["duplicate"] for r in records)
    finally:
        await xsim.delete("/_sim/faults")
    reply_response = await xsim.post(
        "/2/tweets",
        json={"text": "@ExampleBankHelp it was yesterday", "reply": {"in_reply_to_tweet_id": root}},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert reply_response.status_code == 201, reply_response.text
    reply = str(reply_response.json()["data"]["id"])
    await _stored(runtime, root, reply)
    await process_pending(runtime)
    messages = await _messages(runtime)
    assert set(messages) == {root, reply}
    assert messages[root].conversation_id == messages[reply].conversation_id
    async with runtime.database.reader() as session:
        count = len((await session.scalars(select(InboundEvent))).all())
    assert count == 2
