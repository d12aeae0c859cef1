"""Who a post reaches: users' followers and verified badge, and posts' ``lang``, in every shape.

v2 gives ``verified`` and ``public_metrics`` only when ``user.fields`` asks; v1.1 (webhooks) always
carries ``followers_count`` and ``verified`` at the top of the user. ``/_sim/users`` sets them.
"""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from xsim_support import APP_BEARER, BRAND_ID, OAuth1, Sim

from xsim.entities import parse_entities
from xsim.ids import SnowflakeGenerator
from xsim.store import MAX_FOLLOWERS, Store, User, tweet_lang
from xsim.traffic import audience
from xsim.v1_render import direct_message_payload, v1_tweet

MENTIONS = f"/2/users/{BRAND_ID}/mentions"
AUDIENCE_FIELDS = {
    "tweet.fields": "author_id,lang",
    "expansions": "author_id",
    "user.fields": "verified,public_metrics",
}


async def _mentions(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(MENTIONS, params=params, headers=APP_BEARER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- /_sim/users -----------------------------------------------------------------------------


async def test_users_are_created_with_an_audience(client: httpx.AsyncClient) -> None:
    body = {"username": "carla", "followers_count": 184_000, "verified": True}
    created = await client.post("/_sim/users", json=body)
    assert created.status_code == 201
    got = (await client.get("/_sim/users/carla")).json()
    assert (got["followers_count"], got["verified"]) == (184_000, True)
    plain = await client.post("/_sim/users", json={"username": "dan"})
    got = (await client.get("/_sim/users/dan")).json()
    assert plain.status_code == 201 and (got["followers_count"], got["verified"]) == (0, False)
    for followers in (0, MAX_FOLLOWERS):
        edge = await client.post(
            "/_sim/users", json={"username": f"e{followers}", "followers_count": followers}
        )
        assert edge.status_code == 201, edge.text


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"followers_count": -1}, "followers_count"),
        ({"followers_count": MAX_FOLLOWERS + 1}, "followers_count"),
        ({"followers_count": 10**30}, "followers_count"),
        ({"followers_count": 1.5}, "followers_count"),
        ({"followers_count": "1000"}, "followers_count"),
        ({"followers_count": True}, "followers_count"),
        ({"followers_count": None}, "followers_count"),
        ({"followers_count": {"n": 1}}, "followers_count"),
        ({"verified": "yes"}, "verified"),
        ({"verified": 1}, "verified"),
        ({"verified": None}, "verified"),
    ],
)
async def test_audience_validation(client: httpx.AsyncClient, changes: dict[str, Any], field: str) -> None:
    response = await client.post("/_sim/users", json={"username": "bad", **changes})
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Request"
    (error,) = body["errors"]
    assert error["message"].startswith(f"$.{field}: "), error
    assert (await client.get("/_sim/users/bad")).status_code == 404


async def test_patch_changes_the_audience_and_reset_restores_the_brand(
    client: httpx.AsyncClient, sim: Sim
) -> None:
    await sim.user("alice")
    patched = await client.patch("/_sim/users/alice", json={"followers_count": 12_345})
    assert patched.status_code == 200
    assert patched.json() | {"id": None} == {
        "id": None,
        "username": "alice",
        "name": "alice",
        "is_brand": False,
        "accepts_dms": True,
        "followers_count": 12_345,
        "verified": False,
    }
    patched = await client.patch("/_sim/users/alice", json={"verified": True})
    assert (patched.json()["followers_count"], patched.json()["verified"]) == (12_345, True)
    for bad in (
        {"followers_count": -5},
        {"followers_count": "many"},
        {"verified": "true"},
        {},
        {"lang": "en"},
    ):
        refused = await client.patch("/_sim/users/alice", json=bad)
        assert refused.status_code == 400, bad
    assert (await client.get("/_sim/users/alice")).json()["followers_count"] == 12_345

    brand = await client.patch(
        "/_sim/users/ExampleBankHelp", json={"followers_count": 50_000, "verified": True}
    )
    assert brand.json()["verified"] is True
    await client.post("/_sim/reset")
    brand_now = (await client.get("/_sim/users/ExampleBankHelp")).json()
    assert (brand_now["followers_count"], brand_now["verified"]) == (0, False)


# -- v2 --------------------------------------------------------------------------------------


async def test_v2_gives_verified_and_public_metrics_only_when_asked(
    client: httpx.AsyncClient, sim: Sim
) -> None:
    carla = await sim.user("carla", "Carla", followers_count=184_000, verified=True)
    first = await sim.post(carla.auth, "@ExampleBankHelp my card is blocked")
    await sim.post(carla.auth, "@ExampleBankHelp still blocked")
    await client.delete(f"/2/tweets/{first}", headers=carla.auth)

    body = await _mentions(client, **AUDIENCE_FIELDS)
    (user,) = body["includes"]["users"]
    assert user == {
        "id": carla.id,
        "name": "Carla",
        "username": "carla",
        "verified": True,
        # X counts live posts; xsim has no follows or lists.
        "public_metrics": {
            "followers_count": 184_000,
            "following_count": 0,
            "tweet_count": 1,
            "listed_count": 0,
        },
    }
    assert body["data"][0]["lang"] == "en"

    plain = await _mentions(client, expansions="author_id", **{"user.fields": "username"})
    assert set(plain["includes"]["users"][0]) == {"id", "name", "username"}
    me = await client.get("/2/users/me", params={"user.fields": "public_metrics"}, headers=carla.auth)
    assert me.json()["data"]["public_metrics"]["followers_count"] == 184_000
    assert "verified" not in me.json()["data"]


async def test_dm_senders_carry_their_audience(client: httpx.AsyncClient, sim: Sim) -> None:
    carla = await sim.user("carla", followers_count=9_000, verified=True)
    sent = await client.post(
        f"/2/dm_conversations/with/{BRAND_ID}/messages", json={"text": "hi"}, headers=carla.auth
    )
    assert sent.status_code == 201
    response = await client.get(
        "/2/dm_events",
        params={"expansions": "sender_id", "user.fields": "name,username,verified,public_metrics"},
        auth=OAuth1(),
    )
    (sender,) = response.json()["includes"]["users"]
    assert sender["id"] == carla.id and sender["verified"] is True
    assert sender["public_metrics"]["followers_count"] == 9_000


# -- lang ------------------------------------------------------------------------------------


async def test_the_customer_page_may_choose_the_language(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.user("ana")
    posted = await client.post(
        "/ui/tweet", json={"username": "ana", "text": "@ExampleBankHelp mi tarjeta no funciona", "lang": "es"}
    )
    assert posted.status_code == 201
    tweet_id = posted.json()["data"]["id"]
    lookup = await client.get(f"/2/tweets/{tweet_id}", params={"tweet.fields": "lang"}, headers=APP_BEARER)
    assert lookup.json()["data"]["lang"] == "es"
    found = await client.get(
        "/2/tweets/search/recent",
        params={"query": "tarjeta lang:es", "tweet.fields": "lang"},
        headers=APP_BEARER,
    )
    assert [t["id"] for t in found.json()["data"]] == [tweet_id]
    records = (await client.get("/_sim/tweets", params={"author": "ana"})).json()["tweets"]
    assert records[0]["lang"] == "es"
    for bad in ("english", "EN", "e", "en_GB", "en-", ""):
        refused = await client.post(
            "/ui/tweet", json={"username": "ana", "text": f"@ExampleBankHelp hola {bad}", "lang": bad}
        )
        assert refused.status_code == 400, bad


async def test_a_post_without_words_is_undetermined(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    await sim.post(alice.auth, "@ExampleBankHelp #fail $ABC https://ex.am/p 123 !!")
    await sim.post(alice.auth, "@ExampleBankHelp where is my refund")
    body = await _mentions(client, **{"tweet.fields": "lang"})
    assert [t["lang"] for t in body["data"]] == ["en", "und"]


@pytest.mark.parametrize(
    ("text", "lang"),
    [
        ("hello", "en"),
        ("@a @b", "und"),
        ("@a 👍 2", "und"),
        ("#help", "und"),
        ("https://x.com/a/status/1", "und"),
        ("@a ok", "en"),
        ("", "und"),
        ("ещё", "en"),  # xsim detects nothing: any words are its default language
    ],
)
def test_tweet_lang(text: str, lang: str) -> None:
    assert tweet_lang(text, parse_entities(text, lambda _: None)) == lang


# -- v1.1 ------------------------------------------------------------------------------------


def _store() -> Store:
    brand = User(id="1", username="brand", name="Brand", created_at=datetime.now(UTC), is_brand=True)
    return Store(brand=brand, ids=SnowflakeGenerator())


async def test_v1_users_carry_followers_and_the_real_badge() -> None:
    store = _store()
    carla = await store.create_user("carla", "Carla", followers_count=184_000, verified=True)
    tweet = await store.create_tweet(author=carla, text="@brand help", lang="pt-BR")
    await store.create_tweet(author=carla, text="@brand anyone?")
    rendered = v1_tweet(store, tweet)
    user = rendered["user"]
    assert (user["followers_count"], user["verified"], user["statuses_count"]) == (184_000, True, 2)
    assert (user["friends_count"], user["listed_count"], user["favourites_count"]) == (0, 0, 0)
    assert rendered["lang"] == "pt-BR"

    plain = await store.create_user("dan", "Dan")
    assert v1_tweet(store, await store.create_tweet(author=plain, text="hi"))["user"]["verified"] is False

    _, event = await store.send_dm(sender=carla, text="hi", recipient_id="1")
    payload = direct_message_payload(store, event, recipient_id="1", for_user_id="1")
    sender = payload["users"][carla.id]
    assert (sender["followers_count"], sender["verified"]) == (184_000, True)
    assert payload["users"]["1"]["verified"] is False


# -- traffic ---------------------------------------------------------------------------------


def test_traffic_customers_have_a_spread_of_audiences() -> None:
    audiences = [audience(n) for n in range(1_000)]
    assert audiences == [audience(n) for n in range(1_000)]
    followers = [f for f, _ in audiences]
    assert min(followers) >= 10 and max(followers) <= MAX_FOLLOWERS
    assert sum(1 for f in followers if f < 1_000) > 300 and sum(1 for f in followers if f > 10_000) > 100
    assert [n for n, (_, verified) in enumerate(audiences) if verified][:2] == [99, 199]


async def test_traffic_customers_are_created_with_their_audience(client: httpx.AsyncClient) -> None:
    await client.post("/_sim/traffic", json={"prefix": "aud", "customers": 3, "tweets": 0})
    for _ in range(200):
        if (await client.get("/_sim/users/aud2")).status_code == 200:
            break
        await asyncio.sleep(0.01)
    got = (await client.get("/_sim/users/aud2")).json()
    assert (got["followers_count"], got["verified"]) == audience(2)
