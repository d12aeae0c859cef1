"""Killing the worker with SIGKILL at random points, several times, during ingest and delivery:
no customer post is lost and no agent reply is ever posted twice."""

from __future__ import annotations

import asyncio
import random
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from haven.conversations.repository import access_conversation
from haven.kit.actor import Actor
from haven.messages.service import send_reply
from haven.models import Conversation, DeliveryStatus, InboundEvent, Message, Visibility
from haven.runtime import Runtime
from tests.conftest import make_settings
from tests.e2e.isolated import (
    BRAND_ID,
    Worker,
    haven_env,
    inbound_counts,
    seed_world,
    start_xsim,
    traffic_done,
)
from tests.factories import World
from tests.support import ServerProcess, drop_database, new_database

TWEETS = 1_500
DMS = 300
REPLIES = 120
KILLS = 4


@dataclass
class CrashStack:
    xsim_url: str
    database_url: str
    world: World
    worker: Worker


@pytest.fixture(scope="module")
def crash_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CrashStack]:
    workdir: Path = tmp_path_factory.mktemp("kills")
    database_url = new_database(workdir)
    processes: list[ServerProcess] = []
    worker: Worker | None = None
    try:
        xsim, xsim_url = start_xsim(workdir, XSIM_STREAM_KEEPALIVE_SECONDS="0.5")
        processes.append(xsim)
        world = asyncio.run(
            seed_world(database_url, xsim_url, {"ingest": {"mentions": True, "stream": True, "dms": True}})
        )
        env = haven_env(
            database_url,
            HAVEN_OUTBOX_LEASE_SECONDS="2",
            HAVEN_OUTBOX_LOOK_DELAY_SECONDS="0.5",
            HAVEN_STREAM_BACKFILL_MINUTES="2",
        )
        worker = Worker(env, workdir / "worker.log")
        yield CrashStack(xsim_url, database_url, world, worker)
    finally:
        if worker is not None:
            worker.stop()
        for process in reversed(processes):
            process.stop()
        drop_database(database_url)


@pytest.fixture
async def runtime_for(crash_stack: CrashStack) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(make_settings(crash_stack.database_url))
    yield runtime
    await runtime.close()


async def _kill_at_random(worker: Worker, rng: random.Random, *, kills: int, low: float, high: float) -> None:
    for _ in range(kills):
        await asyncio.sleep(rng.uniform(low, high))
        worker.kill()
        worker.start()


async def test_killed_during_ingest_it_loses_no_post(crash_stack: CrashStack, runtime_for: Runtime) -> None:
    rng = random.Random(20261121)
    crash_stack.worker.start()
    async with httpx.AsyncClient(base_url=crash_stack.xsim_url, timeout=30) as xsim:
        plan = {"prefix": "kil", "customers": 60, "tweets": TWEETS, "dms": DMS, "rate_per_second": 300}
        assert (await xsim.post("/_sim/traffic", json=plan)).status_code == 202
        await _kill_at_random(crash_stack.worker, rng, kills=KILLS, low=0.4, high=1.5)
        await traffic_done(xsim)
    assert crash_stack.worker.kills == KILLS
    deadline = asyncio.get_running_loop().time() + 120
    while (counts := await inbound_counts(runtime_for))[:2] != (TWEETS, DMS):
        assert counts[0] <= TWEETS and counts[1] <= DMS, counts
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(
                f"stored {counts} of {(TWEETS, DMS)}; {await _explain(crash_stack, runtime_for)}"
            )
        await asyncio.sleep(0.5)
    assert await inbound_counts(runtime_for) == (TWEETS, DMS, TWEETS + DMS)


async def _explain(crash_stack: CrashStack, runtime: Runtime) -> str:
    """Where the missing posts are: never stored, or stored and not processed (with why)."""
    async with httpx.AsyncClient(base_url=crash_stack.xsim_url, timeout=30) as xsim:
        posts = (await xsim.get("/_sim/traffic", params={"posts": "true"})).json()["accepted"]
    async with runtime.database.reader() as session:
        messages = set((await session.scalars(select(Message.external_id))).all())
        events = dict((await session.execute(select(InboundEvent.external_id, InboundEvent.outcome))).all())
    missing = [p["id"] for p in posts if p["id"] not in messages]
    unstored = [i for i in missing if i not in events]
    outcomes = Counter(str(events[i]) for i in missing if i in events)
    stored = dict(outcomes)
    return f"{len(missing)} missing: {len(unstored)} never stored (e.g. {unstored[:3]}), stored: {stored}"


async def _queue_replies(runtime: Runtime, world: World) -> dict[int, tuple[str, Visibility]]:
    """Replies in many conversations, a third of them private; returns message id → (text, visibility)."""
    planned: dict[int, tuple[str, Visibility]] = {}
    async with runtime.database.unit_of_work() as session:
        conversation_ids = (await session.scalars(select(Conversation.id).limit(REPLIES))).all()
        actor = Actor.of(world.agent)
        for n in range(REPLIES):
            conversation = await access_conversation(
                session, actor, conversation_ids[n % len(conversation_ids)]
            )
            visibility = Visibility.PRIVATE if n % 3 == 0 else Visibility.PUBLIC
            text = f"Answer {n}: we are on it ({visibility.value})."
            message = await send_reply(session, actor, conversation, text=text, visibility=visibility)
            planned[message.id] = (text, visibility)
    return planned


async def test_killed_during_delivery_it_never_posts_a_reply_twice(
    crash_stack: CrashStack, runtime_for: Runtime
) -> None:
    rng = random.Random(7)
    worker = crash_stack.worker
    worker.stop()
    planned = await _queue_replies(runtime_for, crash_stack.world)
    async with httpx.AsyncClient(base_url=crash_stack.xsim_url, timeout=30) as xsim:
        # A slow X keeps requests in flight, so that kills land between sending and recording.
        await xsim.post("/_sim/faults", json={"latency_ms": 40, "seed": 1})
        worker.start()
        await _kill_at_random(worker, rng, kills=KILLS, low=0.8, high=2.0)
        deadline = asyncio.get_running_loop().time() + 120
        while True:
            async with runtime_for.database.reader() as session:
                statuses = Counter(
                    (
                        await session.scalars(
                            select(Message.delivery_status).where(Message.id.in_(list(planned)))
                        )
                    ).all()
                )
            if statuses[DeliveryStatus.SENT] == REPLIES:
                break
            assert asyncio.get_running_loop().time() < deadline, statuses
            await asyncio.sleep(0.5)
        await xsim.delete("/_sim/faults")
        tweets = (await xsim.get("/_sim/tweets", params={"author": "ExampleBankHelp"})).json()["tweets"]
        dms = (await xsim.get("/_sim/dms", params={"participant": BRAND_ID})).json()["dm_events"]
    tweeted = Counter(t["text"] for t in tweets)
    sent_privately = Counter(d["text"] for d in dms if d["sender_id"] == BRAND_ID)
    for text, visibility in planned.values():
        if visibility is Visibility.PUBLIC:
            assert tweeted[text] == 1 and sent_privately[text] == 0, text
        else:
            assert sent_privately[text] == 1 and tweeted[text] == 0, text
