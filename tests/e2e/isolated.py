"""A private xsim and Haven for tests that break things (faults, kills): nothing shared with the
session's stack, so other tests never see their traffic or their faults."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import func, select

from haven.demo.seed import demo_x_credentials
from haven.models import ChannelAccount, Direction, Message, Visibility
from haven.runtime import Runtime
from tests.conftest import make_settings
from tests.factories import World, make_world
from tests.support import REDIS_URL, ServerProcess, free_port

BRAND_ID = "1500000000000000001"
CREDENTIALS = demo_x_credentials()


def start_xsim(workdir: Path, **env: str) -> tuple[ServerProcess, str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    process = ServerProcess(
        ["-m", "xsim", "--port", str(port)],
        {
            "XSIM_CONSUMER_KEY": CREDENTIALS.consumer_key,
            "XSIM_CONSUMER_SECRET": CREDENTIALS.consumer_secret,
            "XSIM_BRAND_ACCESS_TOKEN": CREDENTIALS.access_token,
            "XSIM_BRAND_ACCESS_TOKEN_SECRET": CREDENTIALS.access_token_secret,
            "XSIM_APP_BEARER_TOKEN": CREDENTIALS.bearer_token,
            # One simulated X serves every test and a Haven polling fast: lift the DM read quota.
            "XSIM_RATE_LIMITS__DM_READ_USER": "100000",
            **env,
        },
        f"{url}/_sim/state",
        workdir / f"xsim-{port}.log",
    )
    process.wait_ready()
    return process, url


async def seed_world(database_url: str, xsim_url: str, account_settings: dict[str, Any]) -> World:
    runtime = Runtime.build(make_settings(database_url))
    try:
        world = await make_world(
            runtime, api_base_url=xsim_url, credentials=CREDENTIALS, brand_user_id=BRAND_ID
        )
        async with runtime.database.unit_of_work() as session:
            account = await session.get_one(ChannelAccount, world.account.id)
            account.settings = account_settings
            # The factory's second brand borrows the same X credentials; here it must not read X.
            other = await session.get_one(ChannelAccount, world.other_account.id)
            other.active = False
        return world
    finally:
        await runtime.close()


def haven_env(database_url: str, **extra: str) -> dict[str, str]:
    env = {
        "HAVEN_DATABASE_URL": database_url,
        "HAVEN_ENVIRONMENT": "test",
        "HAVEN_POLL_INTERVAL_SECONDS": "0.2",
        "HAVEN_DM_POLL_INTERVAL_SECONDS": "0.5",
        "HAVEN_OUTBOX_INTERVAL_SECONDS": "0.2",
        "HAVEN_STREAM_READ_TIMEOUT_SECONDS": "3",
        "HAVEN_STREAM_BACKOFF_SCALE": "0.01",
        "HAVEN_LOG_LEVEL": "WARNING",
        **extra,
    }
    if REDIS_URL:
        env["HAVEN_REDIS_URL"] = REDIS_URL
    return env


@dataclass
class Worker:
    """``haven worker`` as a child process that tests may kill without warning and start again."""

    env: dict[str, str]
    log: Path
    process: subprocess.Popen[bytes] | None = None
    kills: int = 0
    _logs: list[Any] = field(default_factory=list)

    def start(self) -> None:
        handle = self.log.open("ab")
        self._logs.append(handle)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "haven", "worker"],
            env={**os.environ, **self.env},
            stdout=handle,
            stderr=subprocess.STDOUT,
        )

    def kill(self) -> None:
        """SIGKILL: no cleanup, no finally blocks, no goodbye — a power cut for one process."""
        assert self.process is not None
        os.kill(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self.kills += 1

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for handle in self._logs:
            handle.close()


async def traffic_done(xsim: httpx.AsyncClient, *, within: float = 120.0) -> dict[str, Any]:
    for _ in range(int(within / 0.1)):
        status: dict[str, Any] = (await xsim.get("/_sim/traffic")).json()
        if not status["running"]:
            assert status["error"] is None, status
            return status
        await asyncio.sleep(0.1)
    raise AssertionError("xsim's traffic run did not finish")


async def inbound_counts(runtime: Runtime) -> tuple[int, int, int]:
    """Inbound public messages, inbound private messages, and distinct external ids among them all."""
    async with runtime.database.reader() as session:
        rows = (
            await session.execute(
                select(Message.visibility, func.count(), func.count(func.distinct(Message.external_id)))
                .where(Message.direction == Direction.INBOUND)
                .group_by(Message.visibility)
            )
        ).all()
    counts = {visibility: (total, distinct) for visibility, total, distinct in rows}
    public, public_distinct = counts.get(Visibility.PUBLIC, (0, 0))
    private, private_distinct = counts.get(Visibility.PRIVATE, (0, 0))
    return public, private, public_distinct + private_distinct
