"""Helpers for attacking the secure handoff (tests/integration/test_handoff_security.py).

They build on tests/handoff_support.py: a Haven served on a port chosen in advance (so its
``public_base_url`` can name itself, as the OpenID Connect redirect needs), a runtime whose bus is
Redis when the suite runs with it, reading and forcing
rows, replaying a browser's cookies, WebSocket handshakes that are expected to fail, and a watch on
everything Haven logs (including uvicorn's access log, on in production) for secrets.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from typing import Any

import httpx
import pytest
import websockets
from sqlalchemy import select, update

from haven.models import AuditEntry, ChatInvitation, Message
from haven.runtime import Runtime
from haven.security.csrf import CSRF_COOKIE, CSRF_FIELD
from tests.handoff_support import LiveHaven, cookie_header, csrf_from, hand_off, open_link, verify_by_code
from tests.support import REDIS_URL

FOREIGN_ORIGIN = "https://evil.example"


@asynccontextmanager
async def backend_runtime(runtime: Runtime) -> AsyncIterator[Runtime]:
    """The test runtime; when the suite runs with Redis, one whose events travel through Redis.

    The session's runtime always uses the in-process bus; with ``HAVEN_TEST_REDIS_URL`` set, the chat
    sockets' notices should cross Redis as they do between production processes.
    """
    if not REDIS_URL:
        yield runtime
        return
    own = Runtime.build(runtime.settings.model_copy(update={"redis_url": REDIS_URL}))
    await own.start()
    try:
        yield own
    finally:
        await own.close()


# -- the database, read and forced ------------------------------------------------------------


async def invitation_of(runtime: Runtime, conversation_id: int) -> ChatInvitation:
    """The conversation's newest invitation."""
    async with runtime.database.reader() as session:
        invitation = await session.scalar(
            select(ChatInvitation)
            .where(ChatInvitation.conversation_id == conversation_id)
            .order_by(ChatInvitation.id.desc())
            .limit(1)
        )
    assert invitation is not None
    return invitation


async def force_invitation(runtime: Runtime, invitation_id: int, **values: Any) -> None:
    """Change an invitation's columns behind Haven's back (an expiry in the past, another HMAC…)."""
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(ChatInvitation).where(ChatInvitation.id == invitation_id).values(**values)
        )


async def chat_texts(runtime: Runtime, chat_id: int) -> list[str]:
    async with runtime.database.reader() as session:
        texts = await session.scalars(
            select(Message.text).where(Message.chat_id == chat_id).order_by(Message.id)
        )
        return list(texts)


async def audit_dump(runtime: Runtime) -> str:
    """Every audit entry, as one string to search for secrets."""
    async with runtime.database.reader() as session:
        entries = (await session.scalars(select(AuditEntry))).all()
    return "\n".join(f"{e.action} {e.object_type} {e.object_id} {e.details!r}" for e in entries)


# -- browsers ----------------------------------------------------------------------------------


def browser_with(haven: LiveHaven, cookies: dict[str, str], **kwargs: Any) -> httpx.AsyncClient:
    """A fresh browser holding exactly these cookies (a replayed or stolen set)."""
    client = httpx.AsyncClient(base_url=haven.url, timeout=10, **kwargs)
    for name, value in cookies.items():
        client.cookies.set(name, value, domain="127.0.0.1")
    return client


async def page_token(client: httpx.AsyncClient, page: str) -> str:
    """The CSRF token of a page (and the cookie that goes with it, now in the client)."""
    return csrf_from((await client.get(page)).text)


async def csrf_post(
    client: httpx.AsyncClient, url: str, data: dict[str, Any] | None = None
) -> httpx.Response:
    """Post a form as the page's own script or form would: the CSRF token it holds, this site's Origin.

    Unlike ``handoff_support.post`` it does not load a page first, so a replay is exactly one request.
    """
    token = client.cookies.get(CSRF_COOKIE)
    assert token, "the browser has no CSRF cookie yet: load a page first"
    origin = str(client.base_url).rstrip("/")
    return await client.post(url, data={CSRF_FIELD: token, **(data or {})}, headers={"Origin": origin})


async def open_and_land(haven: LiveHaven, link: str) -> httpx.AsyncClient:
    """The customer opens the link and, as the browser follows the redirect, lands on the page."""
    customer = await open_link(haven, link)
    landing = await customer.get("/chat/verify")
    assert landing.status_code == 200, landing.text
    return customer


async def invite_and_open(
    haven: LiveHaven, agent: httpx.AsyncClient, conversation_id: int
) -> httpx.AsyncClient:
    """The agent invites; the customer opens the link and lands on the verification page."""
    return await open_and_land(haven, await hand_off(haven, agent, conversation_id))


async def enter_chat(haven: LiveHaven, agent: httpx.AsyncClient, conversation_id: int) -> httpx.AsyncClient:
    customer = await invite_and_open(haven, agent, conversation_id)
    await verify_by_code(haven, customer)
    return customer


async def refused_handshake(haven: LiveHaven, path: str, headers: dict[str, str]) -> int:
    """Open a WebSocket that must be refused; returns the HTTP status of the refusal."""
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(haven.ws_url + path, additional_headers=headers, open_timeout=5):
            pass
    return refused.value.response.status_code


def socket_headers(haven: LiveHaven, client: httpx.AsyncClient | None, origin: str | None) -> dict[str, str]:
    headers: dict[str, str] = {}
    if client is not None:
        headers["Cookie"] = cookie_header(client)
    if origin is not None:
        headers["Origin"] = origin
    return headers


# -- logs --------------------------------------------------------------------------------------


class LogWatch:
    """What Haven's server side logged: Haven's own loggers and uvicorn's (access log included)."""

    def __init__(self, caplog: pytest.LogCaptureFixture) -> None:
        self._caplog = caplog

    def lines(self) -> list[str]:
        # httpx and httpcore log the test's own requests (the client side), not Haven's.
        return [
            f"{record.name}: {record.getMessage()}"
            for record in self._caplog.records
            if not record.name.startswith(("httpx", "httpcore", "websockets.client"))
        ]

    def text(self) -> str:
        return "\n".join(self.lines())


@contextmanager
def watching_logs(caplog: pytest.LogCaptureFixture) -> Iterator[LogWatch]:
    """Capture INFO and above from everything, with uvicorn's access log on as ``haven serve`` has it.

    uvicorn's loggers do not propagate to the root logger, so the capture handler is attached to them
    directly. Call this once the server has started (uvicorn sets its loggers' levels when it starts).
    """
    uvicorn_loggers = [logging.getLogger(name) for name in ("uvicorn.access", "uvicorn.error")]
    levels = [logger.level for logger in uvicorn_loggers]
    caplog.set_level(logging.INFO)
    for logger in uvicorn_loggers:
        logger.setLevel(logging.INFO)
        logger.addHandler(caplog.handler)
    try:
        yield LogWatch(caplog)
    finally:
        for logger, level in zip(uvicorn_loggers, levels, strict=True):
            logger.removeHandler(caplog.handler)
            logger.setLevel(level)
