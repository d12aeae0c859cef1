"""Proof under faults: X misbehaving on a fifth of requests, duplicating, reordering and dropping
the stream, and Haven still ends with exactly one message per customer post and DM."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass

import httpx
import pytest
from sqlalchemy import select

from haven.channels.x import webhook_admin
from haven.models import ChannelAccount
from haven.runtime import Runtime
from tests.conftest import make_settings
from tests.e2e.isolated import haven_env, inbound_counts, seed_world, start_xsim, traffic_done
from tests.support import ServerProcess, drop_database, free_port, new_database

TWEETS = 5_000
DMS = 1_000
ALL_PATHS = {
    "ingest": {"mentions": True, "search": False, "stream": True, "webhooks": True, "dms": True},
}


@dataclass
class FaultyStack:
    xsim_url: str
    haven_url: str
    database_url: str


@pytest.fixture(scope="module")
def faulty_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaultyStack]:
    workdir = tmp_path_factory.mktemp("faults")
    database_url = new_database(workdir)
    processes: list[ServerProcess] = []
    try:
        xsim, xsim_url = start_xsim(workdir, XSIM_STREAM_KEEPALIVE_SECONDS="0.5")
        processes.append(xsim)
        asyncio.run(seed_world(database_url, xsim_url, ALL_PATHS))
        port = free_port()
        haven_url = f"http://127.0.0.1:{port}"
        haven = ServerProcess(
            ["-m", "haven", "serve", "--port", str(port)],
            haven_env(database_url, HAVEN_PUBLIC_BASE_URL=haven_url),
            f"{haven_url}/readyz",
            workdir / "haven.log",
        )
        processes.append(haven)
        haven.wait_ready()
        asyncio.run(_register_webhook(database_url, haven_url))
        yield FaultyStack(xsim_url, haven_url, database_url)
    finally:
        for process in reversed(processes):
            process.stop()
        drop_database(database_url)


async def _register_webhook(database_url: str, haven_url: str) -> None:
    """Haven's hook registered with xsim (xsim checks it with a CRC against the running Haven)."""
    runtime = Runtime.build(make_settings(database_url))
    try:
        async with runtime.database.unit_of_work() as session:
            account = (
                await session.scalars(select(ChannelAccount).where(ChannelAccount.active.is_(True)))
            ).one()
            await webhook_admin.register(session, runtime.cipher, account, haven_url, enable=True)
    finally:
        await runtime.close()


@pytest.fixture
async def reader(faulty_stack: FaultyStack) -> AsyncIterator[Runtime]:
    runtime = Runtime.build(make_settings(faulty_stack.database_url))
    yield runtime
    await runtime.close()


async def test_every_post_and_dm_arrives_exactly_once_while_x_misbehaves(
    faulty_stack: FaultyStack, reader: Runtime
) -> None:
    async with httpx.AsyncClient(base_url=faulty_stack.xsim_url, timeout=30) as xsim:
        faults = {
            "error_rate": 0.2,
            "timeout_seconds": 1.0,
            "after_effect_share": 0.5,
            "duplicate_rate": 0.1,
            "reorder_rate": 0.1,
            "stream_disconnect_rate": 0.002,
            "seed": 20261121,
        }
        assert (await xsim.post("/_sim/faults", json=faults)).status_code == 200
        plan = {"prefix": "flt", "customers": 200, "tweets": TWEETS, "dms": DMS, "rate_per_second": 600}
        assert (await xsim.post("/_sim/traffic", json=plan)).status_code == 202
        await traffic_done(xsim)

        # A bound on liveness, not a speed test: generous, so a loaded machine does not fail it.
        deadline = asyncio.get_running_loop().time() + 300
        while (stored := await inbound_counts(reader))[:2] != (TWEETS, DMS):
            assert stored[0] <= TWEETS and stored[1] <= DMS, f"more messages than posts: {stored}"
            assert asyncio.get_running_loop().time() < deadline, f"stored {stored} of {(TWEETS, DMS)}"
            await asyncio.sleep(0.5)
        # Late duplicates and reordered lines still in flight must not add anything.
        await asyncio.sleep(3)
        assert await inbound_counts(reader) == (TWEETS, DMS, TWEETS + DMS)
        injected = (await xsim.get("/_sim/faults")).json()["counts"]
        webhooks = (await xsim.get("/_sim/webhooks")).json()
        await xsim.delete("/_sim/faults")
    # The faults really happened, of every kind.
    for kind in ("429", "500", "503", "timeout", "duplicate", "reorder"):
        assert injected.get(kind, 0) > 0, injected
    # Webhook deliveries (duplicated and reordered too) arrived alongside polling and the stream.
    assert webhooks["deliveries"]["delivered"] > 0, webhooks["deliveries"]
