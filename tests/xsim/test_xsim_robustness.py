"""Hostile and broken input: always a JSON error in the contract's shapes, never a trace."""

from __future__ import annotations

import httpx
import pytest
from xsim_support import APP_BEARER, Sim

from xsim.middleware import MAX_BODY_BYTES


async def test_unknown_routes_are_json_404(client: httpx.AsyncClient) -> None:
    for path in ("/2/nothing", "/1.1/statuses/update.json", "/_sim/nope", "/static/missing.js"):
        response = await client.get(path)
        assert response.status_code == 404
        assert response.json() == {
            "title": "Not Found",
            "type": "about:blank",
            "status": 404,
            "detail": "Not Found",
        }


async def test_wrong_method_is_json_405(client: httpx.AsyncClient) -> None:
    response = await client.put("/2/tweets", headers=APP_BEARER)
    assert response.status_code == 405
    assert response.json()["title"] == "Method Not Allowed"


@pytest.mark.parametrize(
    "content",
    [b"{", b"", b"null", b"\xff\xfe", b'{"text": "a"', b'{"text": "\\ud800"}'],
)
async def test_malformed_json_is_400(client: httpx.AsyncClient, sim: Sim, content: bytes) -> None:
    alice = await sim.user("alice")
    headers = alice.auth | {"content-type": "application/json"}
    response = await client.post("/2/tweets", content=content, headers=headers)
    assert response.status_code == 400
    assert response.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"


async def test_admin_malformed_json_is_400(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_sim/users", content=b"{nope", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["errors"] == [{"message": "Request body is not valid JSON"}]


async def test_oversized_bodies_are_refused(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    big = {"text": "x" * (MAX_BODY_BYTES + 1)}
    response = await client.post("/2/tweets", json=big, headers=alice.auth)
    assert response.status_code == 413
    assert response.json()["status"] == 413

    async def chunks():  # no Content-Length: counted while streaming
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b"x" * 1024

    streamed = await client.post("/2/tweets", content=chunks(), headers=alice.auth)
    assert streamed.status_code == 413


async def test_bad_content_length_is_400(app) -> None:
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/2/tweets",
        "raw_path": b"/2/tweets",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"host", b"xsim.test"), (b"content-length", b"-5")],
        "client": ("127.0.0.1", 1),
        "server": ("xsim.test", 80),
    }
    await app(scope, receive, send)
    assert sent[0]["status"] == 400


async def test_security_headers_on_every_response(client: httpx.AsyncClient) -> None:
    for path in ("/", "/2/tweets/1", "/_sim/state", "/nope"):
        response = await client.get(path)
        assert "default-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["x-content-type-options"] == "nosniff"


async def test_query_parameters_with_odd_bytes(client: httpx.AsyncClient) -> None:
    for query in ("%FF%FE", "\x00", "☃" * 100, "((((((((((((x))))))))))))", "-" * 50):
        response = await client.get("/2/tweets/search/recent", params={"query": query}, headers=APP_BEARER)
        assert response.status_code in (200, 400)
        assert response.headers["content-type"].startswith("application/")
