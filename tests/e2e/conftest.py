"""A real stack over real sockets: xsim and Haven as child processes, on a fresh database.

When the suite runs with Redis, Haven runs split as production would scale it: the web process
without workers, and a separate `haven worker` process, their events travelling through Redis.

Haven runs with the secure handoff fully set up, as the demo runs it: the demo's customer directory
(xsim's scenario customers linked to bank records, `oidc_subject` = their username), one-time codes
on the demo phone page (served by the web process) and a real OpenID provider
(tests/oidc_support.py) for "Sign in with Example Bank".
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from haven.channels.x.client import XCredentials
from haven.demo.directory import write_demo_directory
from haven.demo.seed import DemoCredentials, demo_x_credentials, seed_demo
from haven.runtime import Runtime
from tests.conftest import make_settings
from tests.factories import World, make_world
from tests.oidc_support import OidcProvider, start_oidc_provider
from tests.support import REDIS_URL, ServerProcess, drop_database, free_port, new_database

#: The brand's X user id in xsim (its default ``brand_user_id``).
BRAND_ID = "1500000000000000001"


@dataclass
class Stack:
    haven_url: str
    xsim_url: str
    database_url: str
    demo: DemoCredentials
    credentials: XCredentials
    processes: list[ServerProcess]
    #: The demo customer directory Haven reads (xsim's scenario customers, see haven.demo.directory).
    directory_file: Path
    #: The bank's OpenID provider Haven offers as "Sign in with …"; any login is accepted as `sub`.
    oidc_issuer: str


async def _seed(
    database_url: str, xsim_url: str, haven_url: str, credentials: XCredentials, credentials_file: Path
) -> DemoCredentials:
    runtime = Runtime.build(make_settings(database_url, public_base_url=haven_url))
    try:
        return await seed_demo(
            runtime, xsim_url=xsim_url, credentials=credentials, credentials_file=credentials_file
        )
    finally:
        await runtime.close()


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    workdir = tmp_path_factory.mktemp("stack")
    database_url = new_database(workdir)
    credentials = demo_x_credentials()
    xsim_port, haven_port = free_port(), free_port()
    xsim_url, haven_url = f"http://127.0.0.1:{xsim_port}", f"http://127.0.0.1:{haven_port}"
    xsim = ServerProcess(
        ["-m", "xsim", "--port", str(xsim_port)],
        {
            "XSIM_CONSUMER_KEY": credentials.consumer_key,
            "XSIM_CONSUMER_SECRET": credentials.consumer_secret,
            "XSIM_BRAND_ACCESS_TOKEN": credentials.access_token,
            "XSIM_BRAND_ACCESS_TOKEN_SECRET": credentials.access_token_secret,
            "XSIM_APP_BEARER_TOKEN": credentials.bearer_token,
            # One simulated X serves every test and a Haven polling fast: lift the read quotas the
            # stack's Haven shares with the tests' own pollers (mentions: 450 per 15 minutes, used
            # up within minutes at the stack's 0.3 s interval, after which the tests got 429s).
            "XSIM_RATE_LIMITS__DM_READ_USER": "100000",
            "XSIM_RATE_LIMITS__MENTIONS_APP": "100000",
            "XSIM_RATE_LIMITS__MENTIONS_USER": "100000",
        },
        f"{xsim_url}/_sim/state",
        workdir / "xsim.log",
    )
    processes = [xsim]
    oidc: OidcProvider | None = None
    try:
        xsim.wait_ready()
        directory_file = asyncio.run(write_demo_directory(xsim_url, workdir / "demo-directory.json"))
        oidc = start_oidc_provider([f"{haven_url}/chat/verify/callback"])
        demo = asyncio.run(_seed(database_url, xsim_url, haven_url, credentials, workdir / "demo.json"))
        env = {
            "HAVEN_DATABASE_URL": database_url,
            "HAVEN_PUBLIC_BASE_URL": haven_url,
            "HAVEN_DIRECTORY_FILE": str(directory_file),
            "HAVEN_OIDC_ISSUER": oidc.issuer,
            "HAVEN_OIDC_CLIENT_ID": oidc.client_id,
            "HAVEN_OIDC_CLIENT_SECRET": oidc.client_secret,
            "HAVEN_POLL_INTERVAL_SECONDS": "0.3",
            "HAVEN_DM_POLL_INTERVAL_SECONDS": "1",
            "HAVEN_OUTBOX_INTERVAL_SECONDS": "0.5",
            "HAVEN_LOG_LEVEL": "WARNING",
        }
        if REDIS_URL:
            env["HAVEN_REDIS_URL"] = REDIS_URL
            web = ServerProcess(
                ["-m", "haven", "serve", "--port", str(haven_port), "--no-workers"],
                env,
                f"{haven_url}/readyz",
                workdir / "haven-web.log",
            )
            worker = ServerProcess(
                ["-m", "haven", "worker"], env, f"{haven_url}/readyz", workdir / "haven-worker.log"
            )
            processes += [web, worker]
        else:
            processes.append(
                ServerProcess(
                    ["-m", "haven", "serve", "--port", str(haven_port)],
                    env,
                    f"{haven_url}/readyz",
                    workdir / "haven.log",
                )
            )
        for process in processes[1:]:
            process.wait_ready()
        yield Stack(
            haven_url,
            xsim_url,
            database_url,
            demo,
            credentials,
            processes,
            directory_file=directory_file,
            oidc_issuer=oidc.issuer,
        )
    finally:
        for process in reversed(processes):
            process.stop()
        if oidc is not None:
            oidc.stop()
        drop_database(database_url)


@pytest.fixture
async def xsim(stack: Stack) -> AsyncIterator[httpx.AsyncClient]:
    """An HTTP client of the session's xsim (its `/_sim` controls and the API as a customer)."""
    async with httpx.AsyncClient(base_url=stack.xsim_url, timeout=10) as client:
        yield client


@pytest.fixture
async def world(runtime: Runtime, stack: Stack, empty_database: None) -> World:
    """This test's own brand and database, its X account pointed at the session's xsim brand."""
    return await make_world(
        runtime, api_base_url=stack.xsim_url, credentials=stack.credentials, brand_user_id=BRAND_ID
    )
