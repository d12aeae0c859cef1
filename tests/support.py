"""Helpers shared by the test suites: databases, servers on free ports, waiting."""

from __future__ import annotations

import asyncio
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TypeVar

import asyncpg
import httpx
import uvicorn
from sqlalchemy.engine import make_url
from starlette.types import ASGIApp

from haven.migrate import upgrade

T = TypeVar("T")

#: Where PostgreSQL lives when the suite runs against it, e.g.
#: postgresql+asyncpg://postgres@127.0.0.1:5432/postgres. Each use gets a database of its own.
POSTGRES_URL = os.environ.get("HAVEN_TEST_DATABASE_URL")
REDIS_URL = os.environ.get("HAVEN_TEST_REDIS_URL")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _create_postgres_database(base_url: str) -> str:
    url = make_url(base_url)
    name = f"haven_test_{uuid.uuid4().hex[:12]}"
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database=url.database or "postgres",
    )
    try:
        await connection.execute(f'CREATE DATABASE "{name}"')
    finally:
        await connection.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def _drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    connection = await asyncpg.connect(
        host=url.host,
        port=url.port or 5432,
        user=url.username,
        password=url.password,
        database="postgres",
    )
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await connection.close()


def new_database(tmp_dir: Path) -> str:
    """A new, migrated, empty database on the backend under test. Call outside an event loop."""
    if POSTGRES_URL:
        url = asyncio.run(_create_postgres_database(POSTGRES_URL))
    else:
        url = f"sqlite+aiosqlite:///{tmp_dir / f'haven-{uuid.uuid4().hex[:8]}.db'}"
    upgrade(url)
    return url


def drop_database(url: str) -> None:
    if url.startswith("postgresql"):
        asyncio.run(_drop_postgres_database(url))


async def eventually(
    probe: Callable[[], Awaitable[T | None]], *, within: float = 5.0, every: float = 0.05
) -> T:
    """Call ``probe`` until it returns something other than None; fail after ``within`` seconds."""
    deadline = time.monotonic() + within
    while True:
        result = await probe()
        if result is not None:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {within} s")
        await asyncio.sleep(every)


@asynccontextmanager
async def serving(app: ASGIApp, *, port: int | None = None) -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on a real socket in this event loop; yields its base URL.

    ``port`` serves on a port chosen beforehand (when the app's settings must name its own URL).
    """
    port = port or free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    task = asyncio.create_task(server.serve())

    async def started() -> bool | None:
        return True if server.started else None

    await eventually(started, within=10)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


class ServerProcess:
    """A server started as a child process (``python -m …``), stopped with the fixture."""

    def __init__(self, args: list[str], env: dict[str, str], ready_url: str, log: Path) -> None:
        self.ready_url = ready_url
        self._log = log.open("wb")
        self.process = subprocess.Popen(
            [sys.executable, *args], env={**os.environ, **env}, stdout=self._log, stderr=subprocess.STDOUT
        )
        self.log_path = log

    def wait_ready(self, within: float = 30.0) -> None:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited early:\n{self.log_path.read_text()[-3000:]}")
            try:
                if httpx.get(self.ready_url, timeout=1).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"server not ready:\n{self.log_path.read_text()[-3000:]}")

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self._log.close()
