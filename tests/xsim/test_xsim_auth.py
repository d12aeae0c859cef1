"""Which credentials each endpoint accepts (contract §1), and the app-token endpoint."""

from __future__ import annotations

import base64

import httpx
import pytest
from xsim_support import APP_BEARER, BRAND_ID, CONFIG, Sim

UNAUTHORIZED = {"title": "Unauthorized", "type": "about:blank", "status": 401, "detail": "Unauthorized"}
READS = [
    ("GET", f"/2/users/{BRAND_ID}/mentions"),
    ("GET", "/2/tweets/search/recent?query=hello"),
    ("GET", "/2/tweets/1"),
]
USER_ONLY = [("GET", "/2/users/me"), ("POST", "/2/tweets"), ("DELETE", "/2/tweets/1")]


@pytest.mark.parametrize(("method", "path"), READS + USER_ONLY)
@pytest.mark.parametrize(
    "authorization", [None, "Bearer nope", "Bearer ", "Basic abc", "OAuth garbage", "Token x"]
)
async def test_missing_or_invalid_credentials_get_401(
    client: httpx.AsyncClient, method: str, path: str, authorization: str | None
) -> None:
    headers = {"Authorization": authorization} if authorization else {}
    response = await client.request(method, path, headers=headers, json={"text": "hi"})
    assert response.status_code == 401
    assert response.json() == UNAUTHORIZED
    assert response.headers["content-type"] == "application/problem+json"


@pytest.mark.parametrize(("method", "path"), READS)
async def test_app_bearer_may_read(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, headers=APP_BEARER)
    assert response.status_code == 200


@pytest.mark.parametrize(("method", "path"), USER_ONLY)
async def test_app_bearer_may_not_act_as_a_user(client: httpx.AsyncClient, method: str, path: str) -> None:
    response = await client.request(method, path, headers=APP_BEARER, json={"text": "hi"})
    assert response.status_code == 403
    body = response.json()
    assert body["type"] == "https://api.twitter.com/2/problems/unsupported-authentication"
    assert body["title"] == "Unsupported Authentication"


async def test_user_token_may_read_post_and_see_itself(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice", "Alice")
    me = await client.get("/2/users/me", headers=alice.auth)
    assert me.json() == {"data": {"id": alice.id, "name": "Alice", "username": "alice"}}
    for method, path in READS:
        assert (await client.request(method, path, headers=alice.auth)).status_code == 200
    await sim.post(alice.auth, "@ExampleBankHelp hello")


async def test_reset_revokes_user_tokens(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    await client.post("/_sim/reset")
    assert (await client.get("/2/users/me", headers=alice.auth)).status_code == 401


def _basic(key: str, secret: str) -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()}


async def test_app_token_endpoint_returns_the_same_bearer(client: httpx.AsyncClient) -> None:
    credentials = _basic(CONFIG.consumer_key, CONFIG.consumer_secret)
    form = {"grant_type": "client_credentials"}
    first = await client.post("/oauth2/token", data=form, headers=credentials)
    second = await client.post("/oauth2/token", data=form, headers=credentials)
    expected = {"token_type": "bearer", "access_token": CONFIG.app_bearer_token}
    assert first.status_code == second.status_code == 200
    assert first.json() == second.json() == expected
    token = first.json()["access_token"]
    mentions = await client.get(f"/2/users/{BRAND_ID}/mentions", headers={"Authorization": f"Bearer {token}"})
    assert mentions.status_code == 200


@pytest.mark.parametrize(
    "headers",
    [
        {},
        _basic(CONFIG.consumer_key, "wrong"),
        _basic("wrong", CONFIG.consumer_secret),
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Bearer " + CONFIG.app_bearer_token},
    ],
)
async def test_app_token_endpoint_checks_the_consumer_credentials(
    client: httpx.AsyncClient, headers: dict[str, str]
) -> None:
    response = await client.post("/oauth2/token", data={"grant_type": "client_credentials"}, headers=headers)
    assert response.status_code == 403
    assert response.json()["errors"][0]["code"] == 99


async def test_app_token_endpoint_needs_client_credentials_grant(
    client: httpx.AsyncClient,
) -> None:
    credentials = _basic(CONFIG.consumer_key, CONFIG.consumer_secret)
    for form in ({}, {"grant_type": "password"}):
        response = await client.post("/oauth2/token", data=form, headers=credentials)
        assert response.status_code == 400
        assert response.json()["errors"][0]["code"] == 170
