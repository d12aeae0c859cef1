"""``/_sim/traffic``: paced customer tweets and DMs, each visible through the API as X would show it."""

from __future__ import annotations

import asyncio
import time

import httpx
from xsim_support import BRAND_ID, OAuth1

APP = {"Authorization": "Bearer AAAAAAAAAAAAAAAAAAAAAxsimDemoAppBearerToken"}


async def _finished(client: httpx.AsyncClient) -> dict[str, object]:
    for _ in range(500):
        status = (await client.get("/_sim/traffic", params={"posts": "true"})).json()
        if not status["running"]:
            return dict(status)
        await asyncio.sleep(0.01)
    raise AssertionError("the traffic run did not finish")


async def test_a_run_makes_exactly_the_posts_it_was_asked_for(client: httpx.AsyncClient) -> None:
    started = await client.post("/_sim/traffic", json={"prefix": "t", "customers": 3, "tweets": 12, "dms": 4})
    assert started.status_code == 202
    status = await _finished(client)
    assert (status["tweets_created"], status["dms_created"], status["error"]) == (12, 4, None)
    accepted = status["accepted"]
    assert isinstance(accepted, list) and len(accepted) == 16
    mentions = await client.get(f"/2/users/{BRAND_ID}/mentions", params={"max_results": "100"}, headers=APP)
    assert mentions.json()["meta"]["result_count"] == 12
    dms = await client.get("/2/dm_events", auth=OAuth1())
    assert dms.json()["meta"]["result_count"] == 4
    assert {a["id"] for a in accepted if a["kind"] == "dm"} == {e["id"] for e in dms.json()["data"]}


async def test_a_paced_run_keeps_its_rate_and_a_second_run_waits(client: httpx.AsyncClient) -> None:
    began = time.monotonic()
    await client.post(
        "/_sim/traffic", json={"prefix": "p", "customers": 2, "tweets": 10, "rate_per_second": 50}
    )
    busy = await client.post("/_sim/traffic", json={"prefix": "q", "tweets": 1})
    assert busy.status_code == 409
    await _finished(client)
    assert time.monotonic() - began >= 9 / 50


async def test_bad_plans_are_refused_and_a_run_can_be_stopped(client: httpx.AsyncClient) -> None:
    for plan in ({"tweets": -1}, {"prefix": "no spaces"}, {"rate_per_second": 1e9}, {"extra": 1}, []):
        assert (await client.post("/_sim/traffic", json=plan)).status_code == 400
    await client.post("/_sim/traffic", json={"prefix": "s", "tweets": 1000, "rate_per_second": 10})
    stopped = await client.delete("/_sim/traffic")
    assert stopped.json()["running"] is False and stopped.json()["tweets_created"] < 1000


async def test_a_usage_cap_refuses_posts_past_the_allowance_until_lifted(client: httpx.AsyncClient) -> None:
    assert (await client.post("/_sim/config", json={"post_usage_cap": 1})).status_code == 200
    first = await client.post("/2/tweets", json={"text": "one"}, auth=OAuth1())
    second = await client.post("/2/tweets", json={"text": "two"}, auth=OAuth1())
    assert first.status_code == 201 and second.status_code == 429
    problem = second.json()
    assert problem["type"].endswith("/usage-capped") and problem["period"] == "Monthly"
    customer = (await client.post("/_sim/users", json={"username": "capped"})).json()
    dm = await client.post(
        f"/2/dm_conversations/with/{customer['id']}/messages", json={"text": "hi"}, auth=OAuth1()
    )
    assert dm.status_code == 429
    assert (await client.post("/_sim/config", json={"post_usage_cap": -1})).status_code == 200
    assert (await client.post("/2/tweets", json={"text": "three"}, auth=OAuth1())).status_code == 201
