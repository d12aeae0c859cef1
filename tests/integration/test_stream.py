"""The filtered-stream consumer against a real xsim over a real socket, on the database under test.

xsim runs as a child process with a short keep-alive; each test resets it. Reconnect delays are
scaled down through ``StreamOptions.backoff_scale`` so that X's prescribed delays take milliseconds.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, update

from haven.channels.x.account import seal_credentials
from haven.channels.x.client import XClient, XCredentials
from haven.channels.x.poller import poll_mentions
from haven.channels.x.stream import (
    STREAM,
    StreamApp,
    StreamConsumer,
    StreamOptions,
    StreamSupervisor,
    stream_apps,
)
from haven.demo.seed import demo_x_credentials
from haven.inbound.pipeline import process_pending
from haven.inbound.store import read_cursor, store_raw_events
from haven.models import ApiUsage, ChannelAccount, Conversation, InboundEvent, Message
from haven.runtime import Runtime
from haven.workers.runner import Workers
from tests.factories import World, make_world, next_id, tweet_event
from tests.support import ServerProcess, eventually, free_port

BRAND_ID = "1500000000000000001"
KEEPALIVE = 0.3
#: Fast reconnects: X's 250 ms network step becomes 2.5 ms, its 60 s for a 429 becomes 0.6 s.
FAST = StreamOptions(read_timeout=2.0, backoff_scale=0.01)


class Xsim:
    def __init__(self, url: str, credentials: XCredentials) -> None:
        self.url = url
        self.credentials = credentials
        self.http = httpx.AsyncClient(base_url=url, timeout=10)
        self._tokens: dict[str, str] = {}

    @property
    def bearer(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.credentials.bearer_token}"}

    async def customer(self, username: str) -> str:
        if username not in self._tokens:
            response = await self.http.post("/_sim/users", json={"username": username})
            assert response.status_code == 201, response.text
            self._tokens[username] = response.json()["access_token"]
        return self._tokens[username]

    async def post(self, username: str, text: str, *, reply_to: str | None = None) -> str:
        body: dict[str, Any] = {"text": text}
        if reply_to:
            body["reply"] = {"in_reply_to_tweet_id": reply_to}
        token = await self.customer(username)
        response = await self.http.post("/2/tweets", json=body, headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 201, response.text
        return str(response.json()["data"]["id"])

    async def rules(self) -> list[dict[str, Any]]:
        response = await self.http.get("/2/tweets/search/stream/rules", headers=self.bearer)
        assert response.status_code == 200, response.text
        return list(response.json().get("data", []))

    async def add_rule(self, value: str, tag: str) -> None:
        response = await self.http.post(
            "/2/tweets/search/stream/rules", json={"add": [{"value": value, "tag": tag}]}, headers=self.bearer
        )
        assert response.is_success and response.json()["meta"]["summary"]["created"] == 1, response.text

    async def faults(self, **config: Any) -> None:
        response = await self.http.post("/_sim/faults", json=config)
        assert response.is_success, response.text

    async def disconnect(self, mode: str) -> None:
        response = await self.http.post("/_sim/stream/disconnect", json={"mode": mode})
        assert response.is_success, response.text


@pytest.fixture(scope="module")
def xsim_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, XCredentials]]:
    credentials = demo_x_credentials()
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    server = ServerProcess(
        ["-m", "xsim", "--port", str(port)],
        {
            "XSIM_CONSUMER_KEY": credentials.consumer_key,
            "XSIM_CONSUMER_SECRET": credentials.consumer_secret,
            "XSIM_BRAND_ACCESS_TOKEN": credentials.access_token,
            "XSIM_BRAND_ACCESS_TOKEN_SECRET": credentials.access_token_secret,
            "XSIM_APP_BEARER_TOKEN": credentials.bearer_token,
            "XSIM_STREAM_KEEPALIVE_SECONDS": str(KEEPALIVE),
            # Tests reconnect far more often than X's 50 connects per 15 minutes allow.
            "XSIM_RATE_LIMITS__STREAM_CONNECT_APP": "100000",
            "XSIM_RATE_LIMITS__STREAM_RULES_READ_APP": "100000",
            "XSIM_RATE_LIMITS__STREAM_RULES_WRITE_APP": "100000",
        },
        f"{url}/_sim/state",
        Path(tmp_path_factory.mktemp("xsim-stream")) / "xsim.log",
    )
    try:
        server.wait_ready()
        yield url, credentials
    finally:
        server.stop()


@pytest.fixture
async def xsim(xsim_server: tuple[str, XCredentials]) -> AsyncIterator[Xsim]:
    sim = Xsim(*xsim_server)
    (await sim.http.post("/_sim/reset")).raise_for_status()
    try:
        yield sim
    finally:
        await sim.http.aclose()


@pytest.fixture
async def world(runtime: Runtime, xsim: Xsim) -> World:
    world = await make_world(
        runtime, api_base_url=xsim.url, credentials=xsim.credentials, brand_user_id=BRAND_ID
    )
    await configure(runtime, world.account, stream=True)
    return world


async def configure(
    runtime: Runtime, account: ChannelAccount, *, stream: bool, keywords: list[str] | None = None
) -> None:
    settings = {"ingest": {"stream": stream}, "keyword_queries": keywords or []}
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount).where(ChannelAccount.id == account.id).values(settings=settings)
        )


async def app_of(runtime: Runtime) -> StreamApp:
    async with runtime.database.reader() as session:
        accounts = (await session.scalars(select(ChannelAccount))).all()
    apps = list(stream_apps(accounts, runtime.cipher).values())
    assert len(apps) == 1
    return apps[0]


@contextlib.asynccontextmanager
async def running(consumer: StreamConsumer, *, connected: bool = True) -> AsyncIterator[StreamConsumer]:
    task = asyncio.create_task(consumer.run())
    try:
        if connected:
            await eventually(lambda: _true(consumer.status.connected and not task.done()), within=5)
        yield consumer
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _true(condition: bool) -> bool | None:
    return True if condition else None


async def stored_ids(runtime: Runtime, account_id: int) -> set[str]:
    async with runtime.database.reader() as session:
        rows = await session.scalars(
            select(InboundEvent.external_id).where(
                InboundEvent.channel_account_id == account_id, InboundEvent.source == STREAM
            )
        )
        return set(rows.all())


async def until_stored(runtime: Runtime, account_id: int, ids: set[str], within: float = 5.0) -> None:
    async def probe() -> bool | None:
        return True if ids <= await stored_ids(runtime, account_id) else None

    await eventually(probe, within=within)


# --- Rules ---------------------------------------------------------------------------------------


async def test_rules_follow_the_configuration_and_foreign_rules_are_never_touched(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    await xsim.add_rule("from:someone_else", "marketing")
    await xsim.add_rule("cats -is:retweet", "haven:999999:keyword")  # stale: no such account streams
    await configure(runtime, world.account, stream=True, keywords=["Example Bank"])
    consumer = StreamConsumer(runtime.database, await app_of(runtime), FAST)
    async with running(consumer):
        rules = {(rule["tag"], rule["value"]) for rule in await xsim.rules()}
        assert rules == {
            ("marketing", "from:someone_else"),
            (f"haven:{world.account.id}:mention", "@ExampleBankHelp -is:retweet"),
            (f"haven:{world.account.id}:keyword", "(Example Bank) -is:retweet"),
        }
        # The configuration changes while connected: rules follow without a reconnect.
        await configure(runtime, world.account, stream=True, keywords=["card declined", "is:reply"])
        await configure(runtime, world.other_account, stream=True)
        consumer.update(await app_of(runtime))
        expected = {
            ("marketing", "from:someone_else"),
            (f"haven:{world.account.id}:mention", "@ExampleBankHelp -is:retweet"),
            (f"haven:{world.account.id}:keyword", "(card declined) -is:retweet"),
            (f"haven:{world.other_account.id}:mention", "@OtherBank -is:retweet"),
        }

        async def synced() -> bool | None:
            return True if {(r["tag"], r["value"]) for r in await xsim.rules()} == expected else None

        # "(is:reply) -is:retweet" has no standalone term: X refuses it and, with it, the whole
        # add; the consumer adds the valid rules again on their own.
        await eventually(synced, within=5)
        assert consumer.status.connects == 1


# --- Reading and storing -------------------------------------------------------------------------


async def test_a_streamed_post_is_stored_for_each_matching_account_and_becomes_a_message(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    await configure(runtime, world.account, stream=True, keywords=["lost card"])
    await configure(runtime, world.other_account, stream=True, keywords=["swallowed"])
    woken = asyncio.Event()
    consumer = StreamConsumer(runtime.database, await app_of(runtime), FAST, on_stored=woken.set)
    async with running(consumer):
        mention = await xsim.post("dana", "@ExampleBankHelp my card was swallowed by the ATM")
        keyword = await xsim.post("erin", "I have a lost card, who do I call")
        ignored = await xsim.post("finn", "nothing to see here")
        await until_stored(runtime, world.account.id, {mention, keyword})
        # One line, two accounts: the other account's keyword rule matched it too.
        await until_stored(runtime, world.other_account.id, {mention})
        await asyncio.wait_for(woken.wait(), 1)
        nothing_else = await xsim.post("finn", "@ExampleBankHelp a last one to flush the stream")
        await until_stored(runtime, world.account.id, {nothing_else})
    assert await stored_ids(runtime, world.account.id) == {mention, keyword, nothing_else}
    assert await stored_ids(runtime, world.other_account.id) == {mention}
    assert ignored not in await stored_ids(runtime, world.account.id)
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        message = await session.scalar(select(Message).where(Message.external_id == mention))
        billed = dict(
            (
                await session.execute(
                    select(ApiUsage.channel_account_id, ApiUsage.resources).where(
                        ApiUsage.operation == "post.read"
                    )
                )
            ).all()
        )
    assert message is not None and message.text == "@ExampleBankHelp my card was swallowed by the ATM"
    # Each streamed post is billed once, to the lowest-numbered account it matched.
    assert billed == {world.account.id: 3}


async def test_duplicated_lines_end_as_one_message(runtime: Runtime, world: World, xsim: Xsim) -> None:
    await xsim.faults(duplicate_rate=1.0, seed=7)
    consumer = StreamConsumer(runtime.database, await app_of(runtime), FAST)
    async with running(consumer):
        ids = {await xsim.post("gail", f"@ExampleBankHelp question {n}") for n in range(5)}
        await until_stored(runtime, world.account.id, ids)
        await eventually(lambda: _true(consumer.status.lines - consumer.status.keepalives >= 10))
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        count = await session.scalar(
            select(func.count()).select_from(Message).where(Message.external_id.in_(ids))
        )
    assert count == 5


async def test_a_reply_delivered_before_its_root_joins_the_same_conversation(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    await xsim.faults(reorder_rate=1.0, seed=1)
    consumer = StreamConsumer(runtime.database, await app_of(runtime), FAST)
    async with running(consumer):
        root = await xsim.post("hana", "@ExampleBankHelp my transfer vanished")
        reply = await xsim.post("hana", "@ExampleBankHelp it was 200 euros", reply_to=root)
        await until_stored(runtime, world.account.id, {root, reply})
    async with runtime.database.reader() as session:
        order = (
            await session.scalars(
                select(InboundEvent.external_id)
                .where(InboundEvent.external_id.in_([root, reply]))
                .order_by(InboundEvent.id)
            )
        ).all()
    assert order == [reply, root]  # the stream really delivered them out of order
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversations = set(
            (
                await session.scalars(
                    select(Message.conversation_id).where(Message.external_id.in_([root, reply]))
                )
            ).all()
        )
        thread = await session.scalar(
            select(Conversation.thread_key).where(Conversation.id.in_(conversations))
        )
    assert len(conversations) == 1 and thread == root


async def test_processing_order_does_not_split_a_thread(runtime: Runtime, world: World) -> None:
    """Each event processed in its own pass, the reply first: still one conversation."""
    customer = next_id()
    root = tweet_event(author_id=customer, text="@ExampleBankHelp my card is blocked")
    reply = tweet_event(
        author_id=customer,
        text="@ExampleBankHelp still blocked",
        conversation_id=root.external_id,
        replied_to=root.external_id,
    )
    for event in (reply, root):
        async with runtime.database.unit_of_work() as session:
            await store_raw_events(session, world.account.id, STREAM, [event])
        await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversations = (
            await session.scalars(
                select(Message.conversation_id).where(
                    Message.external_id.in_([root.external_id, reply.external_id])
                )
            )
        ).all()
    assert len(conversations) == 2 and len(set(conversations)) == 1


# --- Connection health ---------------------------------------------------------------------------


async def test_keep_alives_hold_the_connection_and_silence_reopens_it(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    app = await app_of(runtime)
    healthy = StreamConsumer(runtime.database, app, StreamOptions(read_timeout=1.0, backoff_scale=0.01))
    async with running(healthy):
        await asyncio.sleep(1.5)
        assert healthy.status.connects == 1 and healthy.status.keepalives >= 3
    # Keep-alives now come every 2 s, far apart for a consumer that calls 0.5 s of silence dead.
    response = await xsim.http.post("/_sim/config", json={"stream_keepalive_seconds": 2.0})
    assert response.is_success, response.text
    # (Backfill covers a post made in the instant between a timeout and the reconnect.)
    strict = StreamConsumer(
        runtime.database, app, StreamOptions(read_timeout=0.5, backoff_scale=0.01, backfill_minutes=1)
    )
    async with running(strict):
        await eventually(lambda: _true(strict.status.connects >= 2), within=3)
        assert strict.status.last_error == "ReadTimeout"
        # …and a post on the reopened connection still arrives.
        tweet = await xsim.post("ivan", "@ExampleBankHelp anyone there?")
        await until_stored(runtime, world.account.id, {tweet})


@pytest.mark.parametrize("mode", ["error", "drop"])
async def test_a_disconnect_is_followed_by_a_reconnect_that_loses_nothing(
    runtime: Runtime, world: World, xsim: Xsim, mode: str
) -> None:
    # A visible gap (X's first network step, 250 ms, doubled) and one minute of backfill.
    options = StreamOptions(read_timeout=2.0, backoff_scale=2.0, backfill_minutes=1)
    consumer = StreamConsumer(runtime.database, await app_of(runtime), options)
    async with running(consumer):
        before = await xsim.post("jo", "@ExampleBankHelp before the cut")
        await until_stored(runtime, world.account.id, {before})
        await xsim.disconnect(mode)
        during = {await xsim.post("jo", f"@ExampleBankHelp during the gap {n}") for n in range(3)}
        await eventually(lambda: _true(consumer.status.connects == 2), within=5)
        after = await xsim.post("jo", "@ExampleBankHelp after the reconnect")
        await until_stored(runtime, world.account.id, {before, *during, after})
        assert consumer.status.disconnects == 1
    assert list(consumer.status.backfill_requests) == [1, 1]  # a first start, then a short gap
    assert list(consumer.status.delays) == [0.5]
    # The lossless path agrees: polling mentions finds nothing the stream had not stored already.
    stream_ids = await stored_ids(runtime, world.account.id)
    client = XClient(world.account.api_base_url, xsim.credentials)
    try:
        await poll_mentions(runtime.database, client, world.account)
    finally:
        await client.aclose()
    async with runtime.database.reader() as session:
        polled = set((await session.scalars(select(InboundEvent.external_id))).all())
    assert polled == stream_ids


async def test_a_new_run_asks_x_to_replay_what_it_missed_since_the_stored_checkpoint(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    options = StreamOptions(read_timeout=2.0, backoff_scale=0.01, backfill_minutes=2)
    first = StreamConsumer(runtime.database, await app_of(runtime), options)
    async with running(first):
        before = await xsim.post("mo", "@ExampleBankHelp before the crash")
        await until_stored(runtime, world.account.id, {before})
    # Nothing said how long the stream had been away: all the configured backfill was asked for.
    assert list(first.status.backfill_requests) == [2]
    async with runtime.database.reader() as session:
        checkpoint = await read_cursor(session, world.account.id, STREAM)
    assert checkpoint is not None
    # Haven is down (a crash, a deploy) while customers keep posting.
    missed = {await xsim.post("mo", f"@ExampleBankHelp while Haven was down {n}") for n in range(3)}
    # A new run knows only what the database says.
    second = StreamConsumer(runtime.database, await app_of(runtime), options)
    async with running(second):
        await until_stored(runtime, world.account.id, missed)
    # The stored checkpoint says a second ago: one minute (not the two configured) covers it.
    assert list(second.status.backfill_requests) == [1]


async def test_a_second_connection_gets_429_and_backs_off_until_the_slot_is_free(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    app = await app_of(runtime)
    first = StreamConsumer(runtime.database, app, FAST)
    second = StreamConsumer(runtime.database, app, FAST)
    task: asyncio.Task[None] | None = None
    try:
        async with running(first):
            task = asyncio.create_task(second.run())
            await eventually(lambda: _true(second.status.last_status == 429), within=3)
            await asyncio.sleep(1.0)
            # 60 s then 120 s, scaled: at most two attempts in this second, none connected.
            assert second.status.connects == 0 and second.status.attempts <= 2
            assert second.status.delays[0] == pytest.approx(0.6)
        await eventually(lambda: _true(second.status.connected), within=4)
        tweet = await xsim.post("kim", "@ExampleBankHelp hello")
        await until_stored(runtime, world.account.id, {tweet})
    finally:
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


# --- Supervision ---------------------------------------------------------------------------------


async def test_the_supervisor_keeps_one_consumer_per_app_in_step_with_the_configuration(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    supervisor = StreamSupervisor(runtime.database, runtime.cipher, FAST, interval=0.1)
    task = asyncio.create_task(supervisor.run())
    try:
        await eventually(lambda: _true(any(c.status.connected for c in supervisor.consumers.values())))
        (consumer,) = supervisor.consumers.values()
        # A second account of the same app shares the connection; its rules are added live.
        await configure(runtime, world.other_account, stream=True, keywords=["other words"])

        async def both_tagged() -> bool | None:
            tags = {rule["tag"] for rule in await xsim.rules()}
            return True if f"haven:{world.other_account.id}:keyword" in tags else None

        await eventually(both_tagged)
        assert list(supervisor.consumers.values()) == [consumer] and consumer.status.connects == 1
        # Streaming switched off everywhere: the connection closes.
        await configure(runtime, world.account, stream=False)
        await configure(runtime, world.other_account, stream=False)
        await eventually(lambda: _true(not supervisor.consumers))
        # Credentials X refuses (401): the consumer stops and is not restarted in a loop.
        bad = xsim.credentials.model_copy(update={"bearer_token": "AAAAnot-the-bearer"})
        await _reseal(runtime, world.account, bad)
        await configure(runtime, world.account, stream=True)
        await eventually(lambda: _true(any(c.status.stopped for c in supervisor.consumers.values())))
        (refused,) = supervisor.consumers.values()
        await asyncio.sleep(0.4)
        assert supervisor.consumers == {refused.app.key: refused}
        assert refused.status.stopped == "401 Unauthorized" and refused.status.connects == 0
        # Fixed credentials: a new consumer connects.
        await _reseal(runtime, world.account, xsim.credentials)
        await eventually(lambda: _true(any(c.status.connected for c in supervisor.consumers.values())))
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    assert not supervisor.consumers


async def _reseal(runtime: Runtime, account: ChannelAccount, credentials: XCredentials) -> None:
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChannelAccount)
            .where(ChannelAccount.id == account.id)
            .values(credentials_encrypted=seal_credentials(runtime.cipher, credentials))
        )


async def test_the_workers_stream_posts_into_conversations(
    runtime: Runtime, world: World, xsim: Xsim
) -> None:
    workers = Workers(runtime)
    workers.start()
    try:
        await eventually(lambda: _true(any(c.status.connected for c in workers._stream.consumers.values())))
        (consumer,) = workers._stream.consumers.values()
        tweet = await xsim.post("lou", "@ExampleBankHelp is the app down?")

        async def message() -> int | None:
            async with runtime.database.reader() as session:
                return await session.scalar(select(Message.id).where(Message.external_id == tweet))

        await eventually(message, within=5)
        # It came by the stream (polling runs too, and at most found the same post again).
        assert consumer.status.stored >= 1
    finally:
        await workers.stop()
