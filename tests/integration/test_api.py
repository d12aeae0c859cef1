"""The JSON API v1: token auth, shapes, validation, permissions, OpenAPI, health."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import httpx
import pytest
from sqlalchemy import update

from haven.kit.clock import utcnow
from haven.migrate import head_revision
from haven.models import ApiToken
from haven.runtime import Runtime
from haven.security.sessions import create_api_token
from tests.conftest import make_settings
from tests.factories import World, inbound_conversation
from tests.integration.web import console_client


@pytest.fixture
async def tokens(runtime: Runtime, world: World) -> dict[str, str]:
    async with runtime.database.unit_of_work() as session:
        _, ours = await create_api_token(session, world.agent, "test")
        _, theirs = await create_api_token(session, world.outsider, "test")
    return {"ours": ours, "theirs": theirs}


@pytest.fixture
async def api(runtime: Runtime, tokens: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with console_client(runtime) as client:
        client.headers["Authorization"] = f"Bearer {tokens['ours']}"
        yield client


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer hvn_unknown", "Basic abc", "Bearer " + "a" * 500])
async def test_requests_without_a_valid_token_get_401(runtime: Runtime, header: str | None) -> None:
    async with console_client(runtime) as client:
        headers = {"Authorization": header} if header else {}
        response = await client.get("/api/v1/conversations", headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.json() == {"detail": "missing or invalid token"}


async def test_a_revoked_token_stops_working(runtime: Runtime, api: httpx.AsyncClient) -> None:
    assert (await api.get("/api/v1/conversations")).status_code == 200
    async with runtime.database.unit_of_work() as session:
        await session.execute(update(ApiToken).values(revoked_at=utcnow()))
    assert (await api.get("/api/v1/conversations")).status_code == 401


async def test_list_and_read_conversations(runtime: Runtime, world: World, api: httpx.AsyncClient) -> None:
    first = await inbound_conversation(runtime, world, text="@ExampleBankHelp first", username="maria")
    second = await inbound_conversation(runtime, world, text="@ExampleBankHelp second", username="john")
    listing = (await api.get("/api/v1/conversations", params={"status": "open"})).json()
    assert [c["id"] for c in listing["data"]] == [second, first]
    assert listing["next_before_id"] is None
    assert listing["data"][0]["contact"]["handles"] == ["@john"]
    page = (await api.get("/api/v1/conversations", params={"limit": 1})).json()
    assert [c["id"] for c in page["data"]] == [second] and page["next_before_id"] == second
    rest = (await api.get("/api/v1/conversations", params={"limit": 1, "before_id": second})).json()
    assert [c["id"] for c in rest["data"]] == [first]

    detail = (await api.get(f"/api/v1/conversations/{first}")).json()
    message = detail["messages"][0]
    assert {"id", "direction", "visibility", "text", "external_id", "delivery_status", "created_at"} <= set(
        message
    )
    assert (message["direction"], message["visibility"], message["delivery_status"]) == (
        "inbound",
        "public",
        "received",
    )
    assert message["text"] == "@ExampleBankHelp first"
    assert datetime.fromisoformat(message["created_at"]).tzinfo is not None


async def test_reply_assign_resolve(runtime: Runtime, world: World, api: httpx.AsyncClient) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    url = f"/api/v1/conversations/{conversation_id}"
    created = await api.post(
        f"{url}/replies", json={"text": "We're looking into it.", "visibility": "public"}
    )
    assert created.status_code == 201
    body = created.json()
    assert (body["direction"], body["visibility"], body["delivery_status"]) == (
        "outbound",
        "public",
        "queued",
    )
    assert body["external_id"] is None and body["author_agent_id"] == world.agent.id

    assigned = await api.post(f"{url}/assign", json={"assignee_id": world.supervisor.id})
    assert assigned.status_code == 200 and assigned.json()["assignee_id"] == world.supervisor.id
    unassigned = await api.post(f"{url}/assign", json={"assignee_id": None})
    assert unassigned.json()["assignee_id"] is None
    foreign = await api.post(f"{url}/assign", json={"assignee_id": world.outsider.id})
    assert foreign.status_code == 422 and foreign.json() == {"detail": "no such active agent"}

    resolved = await api.post(f"{url}/resolve")
    assert resolved.json()["status"] == "resolved"
    listing = (await api.get("/api/v1/conversations", params={"status": "resolved"})).json()
    assert [c["id"] for c in listing["data"]] == [conversation_id]


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"text": "hi", "visibility": "shout"}, "visibility"),
        ({"text": "", "visibility": "public"}, "text"),
        ({"text": "x" * 10_001, "visibility": "internal"}, "text"),
        ({"text": "x" * 281, "visibility": "public"}, "longer than 280"),
        ({"text": "hi", "visibility": "public", "send_as": "dm"}, "send_as"),
        ({"visibility": "public"}, "text"),
        ([], "body"),
    ],
)
async def test_bad_replies_are_refused_clearly(
    runtime: Runtime, world: World, api: httpx.AsyncClient, body: object, fragment: str
) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    response = await api.post(f"/api/v1/conversations/{conversation_id}/replies", json=body)
    assert response.status_code == 422
    assert fragment in response.text


async def test_malformed_json_and_bad_parameters(
    runtime: Runtime, world: World, api: httpx.AsyncClient
) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    broken = await api.post(
        f"/api/v1/conversations/{conversation_id}/replies",
        content=b"{not json",
        headers={"Content-Type": "application/json"},
    )
    assert broken.status_code == 422
    for params in (
        {"status": "sleeping"},
        {"limit": "0"},
        {"limit": "101"},
        {"before_id": "-3"},
        {"assignee": "everyone"},
    ):
        assert (await api.get("/api/v1/conversations", params=params)).status_code == 422, params
    assert (await api.get("/api/v1/conversations/not-a-number")).status_code == 422
    assert (await api.get("/api/v1/conversations/99999999")).status_code == 404


async def test_another_brands_token_sees_nothing(
    runtime: Runtime, world: World, api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    theirs = {"Authorization": f"Bearer {tokens['theirs']}"}
    url = f"/api/v1/conversations/{conversation_id}"
    assert (await api.get("/api/v1/conversations", headers=theirs)).json()["data"] == []
    assert (await api.get(url, headers=theirs)).status_code == 404
    reply = await api.post(f"{url}/replies", json={"text": "hi", "visibility": "public"}, headers=theirs)
    assert reply.status_code == 404
    assert (await api.post(f"{url}/resolve", headers=theirs)).status_code == 404


async def test_openapi_documents_the_api(api: httpx.AsyncClient) -> None:
    spec = (await api.get("/openapi.json")).json()
    assert {
        "/api/v1/conversations",
        "/api/v1/conversations/{conversation_id}",
        "/api/v1/conversations/{conversation_id}/replies",
        "/api/v1/conversations/{conversation_id}/assign",
        "/api/v1/conversations/{conversation_id}/resolve",
    } <= set(spec["paths"])
    assert not any(path.startswith("/conversations") for path in spec["paths"])


async def test_health_and_readiness(api: httpx.AsyncClient) -> None:
    assert (await api.get("/healthz")).json() == {"status": "ok"}
    ready = await api.get("/readyz")
    assert ready.status_code == 200 and ready.json()["revision"] == head_revision()


async def test_readiness_reports_pending_migrations(tmp_path: Path) -> None:
    runtime = Runtime.build(make_settings(f"sqlite+aiosqlite:///{tmp_path / 'never-migrated.db'}"))
    try:
        async with console_client(runtime) as client:
            response = await client.get("/readyz")
    finally:
        await runtime.close()
    assert response.status_code == 503
    assert response.json()["database"] == "migrations pending"


async def test_handoff_sends_an_invitation_through_the_outbound_path(
    runtime: Runtime, world: World, api: httpx.AsyncClient, tokens: dict[str, str]
) -> None:
    conversation_id = await inbound_conversation(runtime, world)
    response = await api.post(f"/api/v1/conversations/{conversation_id}/handoff")
    assert response.status_code == 201, response.text
    body = response.json()
    assert body["sent_as"] == "public" and body["message"]["delivery_status"] == "queued"
    # The agent sees what was sent, link included, as in the console; the link alone opens nothing
    # without the customer's own verification.
    assert "/chat/i/" in body["message"]["text"]
    second = await api.post(f"/api/v1/conversations/{conversation_id}/handoff")
    assert second.status_code == 201  # a newer invitation replaces the pending one
    theirs = await api.post(
        f"/api/v1/conversations/{conversation_id}/handoff",
        headers={"Authorization": f"Bearer {tokens['theirs']}"},
    )
    assert theirs.status_code == 404
