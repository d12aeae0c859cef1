"""The /_sim/ control endpoints."""

from __future__ import annotations

import httpx
import pytest
from xsim_support import BRAND_ID, Sim


async def test_create_user_returns_a_working_token(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sim/users", json={"username": "jo_99", "name": "Jo"})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {"id", "username", "name", "access_token"}
    assert body["username"] == "jo_99" and body["name"] == "Jo"
    assert len(body["id"]) == 19 and body["id"].isdigit()
    me = await client.get("/2/users/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.json()["data"]["id"] == body["id"]


async def test_name_defaults_to_username(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sim/users", json={"username": "sam"})
    assert response.json()["name"] == "sam"


@pytest.mark.parametrize(
    "body",
    [
        {"username": ""},
        {"username": "a" * 16},
        {"username": "has space"},
        {"username": "dash-y"},
        {"username": "émile"},
        {"username": "ok", "name": ""},
        {"username": "ok", "name": "n" * 51},
        {"username": "ok", "extra": 1},
        {"name": "no username"},
    ],
)
async def test_username_validation(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/_sim/users", json=body)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


async def test_duplicate_username_is_409(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.user("alice")
    for username in ("alice", "ALICE", "examplebankhelp"):
        response = await client.post("/_sim/users", json={"username": username})
        assert response.status_code == 409
        assert response.json()["status"] == 409


async def test_list_and_get_users(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice", "Alice")
    listed = (await client.get("/_sim/users")).json()["users"]
    assert listed == [
        {"id": BRAND_ID, "username": "ExampleBankHelp", "name": "Example Bank", "is_brand": True},
        {"id": alice.id, "username": "alice", "name": "Alice", "is_brand": False},
    ]
    assert all("access_token" not in user for user in listed)
    one = (await client.get("/_sim/users/ALICE")).json()
    assert one["access_token"] == alice.token
    brand = (await client.get("/_sim/users/ExampleBankHelp")).json()
    assert brand["access_token"] is None and brand["is_brand"] is True
    assert (await client.get("/_sim/users/nobody")).status_code == 404


async def test_tweets_filters(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    root = await sim.post(alice.auth, "@ExampleBankHelp one")
    reply = await sim.post(brand(), "@alice two", reply_to=root)
    other = await sim.post(alice.auth, "@ExampleBankHelp three")

    async def ids(**params: str) -> list[str]:
        response = await client.get("/_sim/tweets", params=params)
        return [t["id"] for t in response.json()["tweets"]]

    assert await ids() == [root, reply, other]
    assert await ids(conversation_id=root) == [root, reply]
    assert await ids(author="alice") == [root, other]
    assert await ids(author="ExampleBankHelp", conversation_id=root) == [reply]
    assert await ids(author="nobody") == []
    bad = await client.get("/_sim/tweets", params={"conversation_id": "x"})
    assert bad.status_code == 400


async def test_state_and_reset(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    gone = await sim.post(alice.auth, "@ExampleBankHelp bye")
    await sim.post(alice.auth, "@ExampleBankHelp stay")
    await client.delete(f"/2/tweets/{gone}", headers=alice.auth)
    state = (await client.get("/_sim/state")).json()
    assert state["users"] == 1 and state["tweets"] == 1 and state["deleted_tweets"] == 1
    assert state["brand"]["username"] == "ExampleBankHelp"
    assert "consumer_secret" not in state["config"]
    after = (await client.post("/_sim/reset")).json()
    assert (after["users"], after["tweets"], after["deleted_tweets"]) == (0, 0, 0)
    assert (await client.get("/_sim/users/alice")).status_code == 404


async def test_config_changes_at_runtime(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/_sim/config",
        json={"reply_restriction": True, "window_seconds": 60, "rate_limits": {"me_user": 2}},
    )
    assert response.status_code == 200
    config = (await client.get("/_sim/config")).json()
    assert config["reply_restriction"] is True
    assert config["window_seconds"] == 60
    assert config["rate_limits"]["me_user"] == 2
    assert config["rate_limits"]["mentions_app"] == 450
    # null leaves a value unchanged
    await client.post("/_sim/config", json={"reply_restriction": None})
    assert (await client.get("/_sim/config")).json()["reply_restriction"] is True


@pytest.mark.parametrize(
    "body",
    [
        {"rate_limits": {"nonsense_app": 3}},
        {"rate_limits": {"me_app": 3}},
        {"rate_limits": {"me_user": 0}},
        {"window_seconds": 0},
        {"consumer_secret": "x"},
        {"reply_restriction": "maybe"},
    ],
)
async def test_config_validation(client: httpx.AsyncClient, body: dict) -> None:
    response = await client.post("/_sim/config", json=body)
    assert response.status_code == 400
    assert (await client.get("/_sim/config")).json()["rate_limits"]["me_user"] == 75
