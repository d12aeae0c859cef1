"""Rate limits: headers on every counted response, 429 when used up, fixed windows."""

from __future__ import annotations

import time

import httpx
import pytest
from xsim_support import APP_BEARER, BRAND_ID, Sim

from xsim.auth import AuthKind
from xsim.config import RateLimits
from xsim.ratelimit import Endpoint, RateLimiter, limit_for

MENTIONS = f"/2/users/{BRAND_ID}/mentions"
TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}


def _quota(response: httpx.Response) -> tuple[int, int, int]:
    headers = response.headers
    return (
        int(headers["x-rate-limit-limit"]),
        int(headers["x-rate-limit-remaining"]),
        int(headers["x-rate-limit-reset"]),
    )


async def test_headers_count_down_then_429(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.configure(rate_limits={"mentions_app": 3})
    before = time.time()
    responses = [await client.get(MENTIONS, headers=APP_BEARER) for _ in range(4)]
    assert [r.status_code for r in responses] == [200, 200, 200, 429]
    assert [_quota(r)[:2] for r in responses] == [(3, 2), (3, 1), (3, 0), (3, 0)]
    reset = _quota(responses[0])[2]
    assert before + 899 <= reset <= time.time() + 901
    assert {_quota(r)[2] for r in responses} == {reset}
    assert responses[3].json() == TOO_MANY
    assert "retry-after" not in responses[3].headers


async def test_callers_are_counted_separately(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    await sim.configure(rate_limits={"mentions_app": 1, "mentions_user": 1})
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    for headers in (APP_BEARER, alice.auth, bob.auth):
        assert (await client.get(MENTIONS, headers=headers)).status_code == 200
    assert (await client.get(MENTIONS, auth=brand())).status_code == 200
    assert (await client.get(MENTIONS, headers=alice.auth)).status_code == 429
    # Other endpoints have their own buckets.
    assert (await client.get("/2/tweets/1", headers=alice.auth)).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "limit"),
    [
        ("GET", "/2/users/me", "me_user"),
        ("GET", "/2/tweets/search/recent?query=x", "search_user"),
        ("GET", "/2/tweets/1", "tweet_lookup_user"),
        ("POST", "/2/tweets", "post_tweet_user"),
        ("DELETE", "/2/tweets/1", "delete_tweet_user"),
    ],
)
async def test_every_endpoint_is_limited(
    client: httpx.AsyncClient, sim: Sim, method: str, path: str, limit: str
) -> None:
    await sim.configure(rate_limits={limit: 1})
    alice = await sim.user("alice")
    first = await client.request(method, path, headers=alice.auth, json={"text": "hello"})
    second = await client.request(method, path, headers=alice.auth, json={"text": "hello 2"})
    assert first.status_code in (200, 201)
    assert _quota(first)[:2] == (1, 0)
    assert second.status_code == 429


async def test_errors_after_authentication_carry_headers(client: httpx.AsyncClient) -> None:
    response = await client.get(MENTIONS, params={"max_results": "1"}, headers=APP_BEARER)
    assert response.status_code == 400
    assert _quota(response)[:2] == (450, 449)


async def test_defaults_follow_the_contract(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    expected = [
        ("GET", MENTIONS, APP_BEARER, 450),
        ("GET", MENTIONS, alice.auth, 300),
        ("GET", "/2/tweets/search/recent?query=x", APP_BEARER, 450),
        ("GET", "/2/tweets/1", APP_BEARER, 450),
        ("GET", "/2/tweets/1", alice.auth, 900),
        ("GET", "/2/users/me", alice.auth, 75),
        ("POST", "/2/tweets", alice.auth, 100),
        ("DELETE", "/2/tweets/1", alice.auth, 50),
    ]
    for method, path, headers, limit in expected:
        response = await client.request(method, path, headers=headers, json={"text": "x"})
        assert _quota(response)[0] == limit, path


async def test_window_rolls_over(client: httpx.AsyncClient, sim: Sim, app) -> None:
    now = [1_000_000.0]
    app.state.sim.clock = lambda: now[0]
    await sim.configure(rate_limits={"mentions_app": 1}, window_seconds=60)
    assert (await client.get(MENTIONS, headers=APP_BEARER)).status_code == 200
    limited = await client.get(MENTIONS, headers=APP_BEARER)
    assert limited.status_code == 429
    assert _quota(limited)[2] == 1_000_060
    now[0] += 60
    fresh = await client.get(MENTIONS, headers=APP_BEARER)
    assert fresh.status_code == 200
    assert _quota(fresh) == (1, 0, 1_000_120)


async def test_reset_clears_counters_and_config(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.configure(rate_limits={"mentions_app": 1})
    await client.get(MENTIONS, headers=APP_BEARER)
    await client.post("/_sim/reset")
    response = await client.get(MENTIONS, headers=APP_BEARER)
    assert _quota(response)[:2] == (450, 449)


def test_limiter_unit() -> None:
    limiter = RateLimiter()
    hits = [
        limiter.hit(Endpoint.SEARCH, "app", limit=2, window_seconds=10, now=t)
        for t in (0.5, 1, 2, 10.4, 10.6)
    ]
    assert [(q.remaining, q.exceeded, q.reset) for q in hits] == [
        (1, False, 11),
        (0, False, 11),
        (0, True, 11),
        (0, True, 11),
        (1, False, 21),
    ]


def test_app_auth_has_no_limit_where_it_is_not_allowed() -> None:
    limits = RateLimits()
    assert limit_for(limits, Endpoint.MENTIONS, AuthKind.APP) == 450
    for endpoint in (Endpoint.ME, Endpoint.POST_TWEET, Endpoint.DELETE_TWEET):
        assert limit_for(limits, endpoint, AuthKind.APP) is None
        assert limit_for(limits, endpoint, AuthKind.USER) is not None
