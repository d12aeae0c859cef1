"""Playing both sides of the secure handoff against a real Haven on a socket.

``live_haven`` serves this test's app (its own settings, the test database) with a customer
directory in a temporary file and the demo phone as the code sender; the helpers below act as the
agent's browser and the customer's browser, each with its own cookies, over real HTTP and
WebSockets.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import websockets
from sqlalchemy import select

from haven.app import create_app
from haven.handoff.senders import DemoPhone
from haven.inbound.pipeline import process_pending
from haven.inbound.store import store_raw_events
from haven.models import Chat, Message
from haven.runtime import Runtime
from tests.factories import PASSWORD, World, next_id, tweet_event
from tests.support import serving

_CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
_LINK = re.compile(r"/chat/i/[A-Za-z0-9_-]+")
_CODE = re.compile(r"\b(\d{6})\b")


@dataclass
class LiveHaven:
    url: str
    phone: DemoPhone
    runtime: Runtime

    @property
    def ws_url(self) -> str:
        return self.url.replace("http://", "ws://")

    def client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.url, timeout=10)


def write_directory(path: Path, customers: list[dict[str, Any]]) -> Path:
    path.write_text(json.dumps({"default_region": "GB", "customers": customers}))
    return path


@asynccontextmanager
async def live_haven(
    runtime: Runtime, directory: Path, *, port: int | None = None, **overrides: object
) -> AsyncIterator[LiveHaven]:
    """Haven on a free port, or on ``port`` with its own address as ``public_base_url`` (an OpenID
    provider must know the callback address before Haven starts)."""
    if port is not None:
        overrides = {"public_base_url": f"http://127.0.0.1:{port}", **overrides}
    settings = runtime.settings.model_copy(update={"directory_file": directory, **overrides})
    app = create_app(runtime=dataclasses.replace(runtime, settings=settings))
    phone = app.state.verifiers.demo_phone
    assert phone is not None
    async with serving(app, port=port) as url:
        yield LiveHaven(url=url, phone=phone, runtime=runtime)


def csrf_from(html: str) -> str:
    match = _CSRF_INPUT.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


async def post(client: httpx.AsyncClient, url: str, data: dict[str, Any], *, page: str) -> httpx.Response:
    """Post a form as the browser would: the page's CSRF token and this site's Origin."""
    token = csrf_from((await client.get(page)).text)
    origin = str(client.base_url).rstrip("/")
    return await client.post(url, data={"csrf_token": token, **data}, headers={"Origin": origin})


async def customer_tweets(
    runtime: Runtime,
    world: World,
    *,
    x_user_id: str,
    text: str = "@ExampleBankHelp my card was charged twice",
) -> int:
    """One customer tweet through the real inbound pipeline; returns its conversation's id."""
    event = tweet_event(author_id=x_user_id, text=text, username=f"user{x_user_id[-4:]}")
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, world.account.id, "mentions", [event])
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversation_id = await session.scalar(
            select(Message.conversation_id).where(Message.external_id == event.external_id)
        )
    assert conversation_id is not None
    return conversation_id


async def agent_signs_in(haven: LiveHaven, email: str) -> httpx.AsyncClient:
    client = haven.client()
    response = await post(client, "/login", {"email": email, "password": PASSWORD}, page="/login")
    assert response.status_code == 303, response.text
    return client


async def hand_off(haven: LiveHaven, agent: httpx.AsyncClient, conversation_id: int) -> str:
    """The agent clicks "Move to secure chat"; returns the link's path, read from the sent message."""
    page = f"/conversations/{conversation_id}"
    response = await post(agent, f"{page}/handoff", {}, page=page)
    assert response.status_code == 303, response.text
    async with haven.runtime.database.reader() as session:
        texts = (
            await session.scalars(
                select(Message.text)
                .where(Message.conversation_id == conversation_id)
                .order_by(Message.id.desc())
            )
        ).all()
    for text in texts:
        if match := _LINK.search(text):
            return match.group(0)
    raise AssertionError("no invitation link was sent")


async def open_link(haven: LiveHaven, link: str) -> httpx.AsyncClient:
    customer = haven.client()
    response = await customer.get(link)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/chat/verify"
    return customer


def last_code(haven: LiveHaven, destination: str | None = None) -> str:
    """The newest one-time code on the demo phone (for one destination, or any)."""
    messages = haven.phone.messages(destination)
    assert messages, f"no code was sent to {destination or 'anyone'}"
    match = _CODE.search(messages[0].text)
    assert match
    return match.group(1)


async def verify_by_code(haven: LiveHaven, customer: httpx.AsyncClient) -> None:
    sent = await post(customer, "/chat/verify/code/send", {}, page="/chat/verify")
    assert sent.status_code == 200, sent.text
    checked = await post(customer, "/chat/verify/code", {"code": last_code(haven)}, page="/chat/verify")
    assert checked.status_code == 303, checked.text
    assert checked.headers["location"] == "/chat"


async def secure_chat(haven: LiveHaven, agent: httpx.AsyncClient, conversation_id: int) -> httpx.AsyncClient:
    """Hand off and verify by code: returns the customer's client, inside the chat."""
    customer = await open_link(haven, await hand_off(haven, agent, conversation_id))
    await verify_by_code(haven, customer)
    return customer


async def chat_of(runtime: Runtime, conversation_id: int) -> Chat:
    async with runtime.database.reader() as session:
        chat = await session.scalar(select(Chat).where(Chat.conversation_id == conversation_id))
    assert chat is not None
    return chat


def cookie_header(client: httpx.AsyncClient) -> str:
    return "; ".join(f"{name}={value}" for name, value in client.cookies.items())


@asynccontextmanager
async def chat_socket(
    haven: LiveHaven, client: httpx.AsyncClient, path: str, *, origin: str | None = None
) -> AsyncIterator[websockets.ClientConnection]:
    headers = {"Cookie": cookie_header(client), "Origin": origin or haven.url}
    async with websockets.connect(haven.ws_url + path, additional_headers=headers) as socket:
        yield socket


async def receive(
    socket: websockets.ClientConnection, *, kind: str | None = None, timeout: float = 5
) -> dict[str, Any]:
    """The next frame (of the given type, skipping typing notices and hello unless asked for)."""
    while True:
        frame = json.loads(await asyncio.wait_for(socket.recv(), timeout))
        if kind is None and frame["type"] in {"hello", "typing"}:
            continue
        if kind is None or frame["type"] == kind:
            return frame


def new_x_user() -> str:
    return next_id()
