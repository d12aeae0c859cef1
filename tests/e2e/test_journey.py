"""The walking skeleton end to end, over real sockets: a tweet reaches an agent, the reply lands."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import websockets

from tests.e2e.conftest import Stack
from tests.support import eventually

BRAND = "@ExampleBankHelp"


def _username() -> str:
    return f"c_{uuid.uuid4().hex[:10]}"


async def _customer(xsim: httpx.AsyncClient) -> dict[str, Any]:
    response = await xsim.post("/_sim/users", json={"username": _username(), "name": "Test Customer"})
    assert response.status_code == 201
    return dict(response.json())


async def _tweet(
    xsim: httpx.AsyncClient, customer: dict[str, Any], text: str, reply_to: str | None = None
) -> str:
    body: dict[str, Any] = {"text": text}
    if reply_to:
        body["reply"] = {"in_reply_to_tweet_id": reply_to}
    response = await xsim.post(
        "/2/tweets", json=body, headers={"Authorization": f"Bearer {customer['access_token']}"}
    )
    assert response.status_code == 201, response.text
    return str(response.json()["data"]["id"])


async def _conversation_for(api: httpx.AsyncClient, handle: str) -> dict[str, Any] | None:
    for conversation in (await api.get("/api/v1/conversations", params={"limit": 100})).json()["data"]:
        if f"@{handle}" in conversation["contact"]["handles"]:
            return dict(conversation)
    return None


Clients = tuple[httpx.AsyncClient, httpx.AsyncClient]


async def _take(api: httpx.AsyncClient, conversation_id: int) -> None:
    """Routing may have given the conversation to a colleague; only the assignee answers, so the
    token's agent takes it first."""
    me = (await api.get("/api/v1/me")).json()["id"]
    taken = await api.post(f"/api/v1/conversations/{conversation_id}/assign", json={"assignee_id": me})
    assert taken.status_code == 200, taken.text


@pytest.fixture
async def clients(stack: Stack) -> AsyncIterator[Clients]:
    headers = {"Authorization": f"Bearer {stack.demo.api_token}"}
    async with (
        httpx.AsyncClient(base_url=stack.xsim_url, timeout=10) as xsim,
        httpx.AsyncClient(base_url=stack.haven_url, headers=headers, timeout=10) as api,
    ):
        yield xsim, api


async def test_a_tweet_reaches_the_api_and_the_reply_lands_in_its_thread(
    stack: Stack, clients: Clients
) -> None:
    xsim, api = clients
    customer = await _customer(xsim)
    tweet_id = await _tweet(xsim, customer, f"{BRAND} my card was declined <b>twice</b>")
    started = time.monotonic()
    conversation = await eventually(lambda: _conversation_for(api, customer["username"]), within=5)
    arrival = time.monotonic() - started
    assert conversation["thread_key"] == tweet_id

    detail = (await api.get(f"/api/v1/conversations/{conversation['id']}")).json()
    assert [(m["external_id"], m["text"]) for m in detail["messages"]] == [
        (tweet_id, f"{BRAND} my card was declined <b>twice</b>")
    ]

    await _take(api, conversation["id"])
    reply = await api.post(
        f"/api/v1/conversations/{conversation['id']}/replies",
        json={"text": "Sorry to hear that! We'll help you right away.", "visibility": "public"},
    )
    assert reply.status_code == 201
    started = time.monotonic()

    async def brand_reply_on_x() -> dict[str, Any] | None:
        tweets = (await xsim.get("/_sim/tweets", params={"conversation_id": tweet_id})).json()["tweets"]
        return next((t for t in tweets if t["author_username"] == "ExampleBankHelp"), None)

    landed = await eventually(brand_reply_on_x, within=5)
    delivery = time.monotonic() - started
    assert landed["in_reply_to_tweet_id"] == tweet_id
    assert landed["text"] == "Sorry to hear that! We'll help you right away."

    async def sent() -> dict[str, Any] | None:
        messages = (await api.get(f"/api/v1/conversations/{conversation['id']}")).json()["messages"]
        outbound = messages[-1]
        return dict(outbound) if outbound["delivery_status"] == "sent" else None

    outbound = await eventually(sent, within=5)
    assert outbound["external_id"] == landed["id"]
    print(f"tweet→API {arrival * 1000:.0f} ms, reply→X {delivery * 1000:.0f} ms")


async def test_the_customers_answer_joins_the_same_conversation(stack: Stack, clients: Clients) -> None:
    xsim, api = clients
    customer = await _customer(xsim)
    first = await _tweet(xsim, customer, f"{BRAND} transfer to my landlord failed")
    conversation = await eventually(lambda: _conversation_for(api, customer["username"]))
    await _take(api, conversation["id"])
    await api.post(
        f"/api/v1/conversations/{conversation['id']}/replies",
        json={"text": "Which day did you send it?", "visibility": "public"},
    )

    async def brand_reply() -> str | None:
        tweets = (await xsim.get("/_sim/tweets", params={"conversation_id": first})).json()["tweets"]
        return next((t["id"] for t in tweets if t["author_username"] == "ExampleBankHelp"), None)

    brand_tweet = await eventually(brand_reply)
    await _tweet(xsim, customer, f"{BRAND} yesterday morning", reply_to=brand_tweet)

    async def two_inbound() -> list[dict[str, Any]] | None:
        messages = (await api.get(f"/api/v1/conversations/{conversation['id']}")).json()["messages"]
        inbound = [m for m in messages if m["direction"] == "inbound"]
        return inbound if len(inbound) == 2 else None

    inbound = await eventually(two_inbound)
    assert inbound[1]["text"] == f"{BRAND} yesterday morning"
    listing = (await api.get("/api/v1/conversations", params={"limit": 100})).json()["data"]
    assert sum(1 for c in listing if f"@{customer['username']}" in c["contact"]["handles"]) == 1


async def test_a_reply_x_refuses_ends_failed_with_the_reason(stack: Stack, clients: Clients) -> None:
    xsim, api = clients
    customer = await _customer(xsim)
    tweet_id = await _tweet(xsim, customer, f"{BRAND} please call me")
    conversation = await eventually(lambda: _conversation_for(api, customer["username"]))
    deleted = await xsim.delete(
        f"/2/tweets/{tweet_id}", headers={"Authorization": f"Bearer {customer['access_token']}"}
    )
    assert deleted.status_code == 200
    await _take(api, conversation["id"])
    await api.post(
        f"/api/v1/conversations/{conversation['id']}/replies",
        json={"text": "Happy to help here.", "visibility": "public"},
    )

    async def failed() -> dict[str, Any] | None:
        messages = (await api.get(f"/api/v1/conversations/{conversation['id']}")).json()["messages"]
        return dict(messages[-1]) if messages[-1]["delivery_status"] == "failed" else None

    message = await eventually(failed, within=10)
    assert message["failure_reason"].startswith("X answered 403")


async def _login_cookies(stack: Stack) -> httpx.Cookies:
    async with httpx.AsyncClient(base_url=stack.haven_url) as browser:
        page = await browser.get("/login")
        token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
        agent = stack.demo.agents[0]
        response = await browser.post(
            "/login",
            data={"csrf_token": token, "email": agent.email, "password": agent.password},
            headers={"Origin": stack.haven_url},
        )
        assert response.status_code == 303
        return browser.cookies


def _cookie_header(cookies: httpx.Cookies) -> str:
    return "; ".join(f"{name}={value}" for name, value in cookies.items())


async def test_the_console_socket_hears_a_new_conversation_live(stack: Stack, clients: Clients) -> None:
    xsim, _ = clients
    cookies = await _login_cookies(stack)
    ws_url = stack.haven_url.replace("http", "ws") + "/ws/console"
    async with websockets.connect(
        ws_url, additional_headers={"Cookie": _cookie_header(cookies), "Origin": stack.haven_url}
    ) as socket:
        assert json.loads(await socket.recv())["type"] == "hello"
        customer = await _customer(xsim)
        await _tweet(xsim, customer, f"{BRAND} is the app down?")
        started = time.monotonic()
        while True:
            event = json.loads(await asyncio.wait_for(socket.recv(), 5))
            if event["type"] == "conversation.changed":
                break
        assert set(event) == {"type", "conversation_id", "reason"}
        print(f"tweet→console event {(time.monotonic() - started) * 1000:.0f} ms")


@pytest.mark.parametrize("case", ["foreign-origin", "no-cookie", "forged-cookie"])
async def test_the_console_socket_refuses_strangers(stack: Stack, case: str) -> None:
    cookies = await _login_cookies(stack)
    headers = {"Cookie": _cookie_header(cookies), "Origin": stack.haven_url}
    if case == "foreign-origin":
        headers["Origin"] = "https://evil.example"
    elif case == "no-cookie":
        del headers["Cookie"]
    else:
        headers["Cookie"] = "haven_session=forged"
    ws_url = stack.haven_url.replace("http", "ws") + "/ws/console"
    with pytest.raises(websockets.exceptions.InvalidStatus) as refused:
        async with websockets.connect(ws_url, additional_headers=headers):
            pass
    assert refused.value.response.status_code == 403
