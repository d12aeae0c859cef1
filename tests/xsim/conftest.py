"""Fixtures for the xsim tests.

In-process tests talk to the app through ``httpx.ASGITransport``; the tweepy and
browser tests use a real uvicorn server on a free port (``live_xsim``). OAuth 1.0a
requests are signed with oauthlib, an implementation independent of xsim's own.
"""

from __future__ import annotations

import threading
import time
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import httpx
import pytest
import uvicorn
from xsim_support import OAuth1, Sim

from xsim.app import create_app


@pytest.fixture
def app() -> Any:
    return create_app()


@pytest.fixture
async def client(app: Any) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://xsim.test") as client:
        yield client


@pytest.fixture
def sim(client: httpx.AsyncClient) -> Sim:
    return Sim(client)


@pytest.fixture
def brand() -> Callable[..., OAuth1]:
    """``brand()`` signs as the brand; keyword arguments go to oauthlib's client."""
    return OAuth1


@pytest.fixture(scope="session")
def live_server() -> Iterator[str]:
    """xsim served by uvicorn on a free port, for clients that need a real socket."""
    server = uvicorn.Server(
        uvicorn.Config(create_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "xsim did not start"
        time.sleep(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=5)


@pytest.fixture
def live_xsim(live_server: str) -> str:
    """The live server's base URL, reset to its starting state."""
    httpx.post(f"{live_server}/_sim/reset").raise_for_status()
    return live_server
