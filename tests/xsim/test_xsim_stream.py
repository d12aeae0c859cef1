"""The filtered stream and its rules (contract §4).

Rules are plain JSON and are tested in process. The stream is endless, so it is read from a real
uvicorn server over a socket (``live``), as a client would.
"""

from __future__ import annotations

import json
import queue
import re
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import tweepy
from stream_support import KEEPALIVE_SECONDS, RULES, STREAM, Live
from test_xsim_tweepy import RebasedSession
from xsim_support import APP_BEARER, CONFIG, OAuth1, Sim, bearer

from xsim.config import SimConfig
from xsim.middleware import MAX_BODY_BYTES
from xsim.params import Selection
from xsim.rules import NewRule
from xsim.simulator import Simulator
from xsim.stream import OPERATIONAL_DISCONNECT, TOO_MANY_CONNECTIONS

PROBLEMS = "https://api.twitter.com/2/problems/"
SENT = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


@pytest.fixture
def live(live_xsim: str) -> Iterator[Live]:
    live = Live(live_xsim)
    live.configure(stream_keepalive_seconds=KEEPALIVE_SECONDS)
    yield live
    live.close()


async def add(client: httpx.AsyncClient, *rules: dict[str, Any], **params: str) -> httpx.Response:
    return await client.post(RULES, json={"add": list(rules)}, params=params, headers=APP_BEARER)


async def rules_now(client: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    response = await client.get(RULES, params=params, headers=APP_BEARER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


# -- rules ---------------------------------------------------------------------------------------


async def test_no_rules_is_an_empty_listing(client: httpx.AsyncClient) -> None:
    body = await rules_now(client)
    assert list(body) == ["meta"]
    assert body["meta"]["result_count"] == 0
    assert SENT.match(body["meta"]["sent"])


async def test_add_list_and_delete_rules(client: httpx.AsyncClient) -> None:
    created = await add(
        client, {"value": "@ExampleBankHelp -is:retweet", "tag": "brand"}, {"value": "refund"}
    )
    assert created.status_code == 201
    body = created.json()
    brand_rule, refund_rule = body["data"]
    assert brand_rule["value"] == "@ExampleBankHelp -is:retweet" and brand_rule["tag"] == "brand"
    assert refund_rule == {"id": refund_rule["id"], "value": "refund"}  # no tag given, none listed
    assert re.fullmatch(r"[0-9]{19}", brand_rule["id"]) and int(refund_rule["id"]) > int(brand_rule["id"])
    assert body["meta"]["summary"] == {"created": 2, "not_created": 0, "valid": 2, "invalid": 0}
    assert SENT.match(body["meta"]["sent"]) and "errors" not in body

    listed = await rules_now(client)
    assert listed["data"] == [brand_rule, refund_rule]
    assert listed["meta"]["result_count"] == 2
    assert (await rules_now(client, ids=refund_rule["id"]))["data"] == [refund_rule]
    assert (await rules_now(client, ids="1234"))["meta"]["result_count"] == 0

    deleted = await client.post(
        RULES, json={"delete": {"ids": [brand_rule["id"], "1234"]}}, headers=APP_BEARER
    )
    assert deleted.status_code == 200
    assert deleted.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 1}
    (missing,) = deleted.json()["errors"]
    assert missing["value"] == "1234" and missing["type"] == PROBLEMS + "resource-not-found"
    assert "data" not in deleted.json()

    by_value = await client.post(RULES, json={"delete": {"values": ["refund"]}}, headers=APP_BEARER)
    assert by_value.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 0}
    assert (await rules_now(client))["meta"]["result_count"] == 0


async def test_dry_run_changes_nothing(client: httpx.AsyncClient) -> None:
    dry = await add(client, {"value": "card lost", "tag": "cards"}, dry_run="true")
    assert dry.status_code == 200
    assert dry.json()["data"][0]["value"] == "card lost"
    assert dry.json()["meta"]["summary"]["created"] == 1
    assert (await rules_now(client))["meta"]["result_count"] == 0

    (rule,) = (await add(client, {"value": "card lost"})).json()["data"]
    dry_delete = await client.post(
        RULES, params={"dry_run": "TRUE"}, json={"delete": {"ids": [rule["id"]]}}, headers=APP_BEARER
    )
    assert dry_delete.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 0}
    assert (await rules_now(client))["data"] == [rule]
    dry_all = await client.post(RULES, params={"delete_all": "true", "dry_run": "true"}, headers=APP_BEARER)
    assert dry_all.json()["meta"]["summary"] == {"deleted": 1, "not_deleted": 0}
    assert (await rules_now(client))["data"] == [rule]


async def test_delete_all(client: httpx.AsyncClient) -> None:
    await add(client, {"value": "one"}, {"value": "two"})
    response = await client.post(RULES, params={"delete_all": "true"}, headers=APP_BEARER)
    assert response.status_code == 200
    assert response.json()["meta"]["summary"] == {"deleted": 2, "not_deleted": 0}
    assert (await rules_now(client))["meta"]["result_count"] == 0

    with_body = await client.post(
        RULES, params={"delete_all": "true"}, json={"delete": {"values": ["x"]}}, headers=APP_BEARER
    )
    assert with_body.status_code == 400
    assert "delete_all" in with_body.json()["errors"][0]["message"]


async def test_duplicates_are_reported_with_the_existing_id(client: httpx.AsyncClient) -> None:
    (existing,) = (await add(client, {"value": "@ExampleBankHelp"})).json()["data"]
    response = await add(
        client, {"value": "@ExampleBankHelp", "tag": "again"}, {"value": "fees"}, {"value": "fees"}
    )
    assert response.status_code == 201
    body = response.json()
    (fees,) = body["data"]
    assert body["errors"] == [
        {
            "value": "@ExampleBankHelp",
            "id": existing["id"],
            "title": "DuplicateRule",
            "type": PROBLEMS + "duplicate-rules",
        },
        {"value": "fees", "id": fees["id"], "title": "DuplicateRule", "type": PROBLEMS + "duplicate-rules"},
    ]
    assert body["meta"]["summary"] == {"created": 1, "not_created": 2, "valid": 3, "invalid": 0}

    only_duplicate = await add(client, {"value": "fees"})
    assert only_duplicate.status_code == 200 and "data" not in only_duplicate.json()


async def test_an_invalid_rule_creates_nothing(client: httpx.AsyncClient) -> None:
    response = await add(client, {"value": "refund"}, {"value": "--b"}, {"value": "is:reply"})
    assert response.status_code == 200
    body = response.json()
    assert "data" not in body
    assert [error["value"] for error in body["errors"]] == ["--b", "is:reply"]
    for error in body["errors"]:
        assert error["title"] == "UnprocessableEntity"
        assert error["type"] == PROBLEMS + "invalid-rules"
        assert isinstance(error["details"], list) and error["details"][0]
    assert body["meta"]["summary"] == {"created": 0, "not_created": 3, "valid": 1, "invalid": 2}
    assert (await rules_now(client))["meta"]["result_count"] == 0


async def test_rule_length_and_count_caps(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.configure(stream_rule_limit=2, stream_rule_max_length=10)
    too_long = await add(client, {"value": "x" * 11})
    assert too_long.json()["errors"][0]["details"] == ["Rule length exceeds the max allowed (10)."]
    assert (await add(client, {"value": "x" * 10})).status_code == 201

    over = await add(client, {"value": "a"}, {"value": "b"})
    assert over.status_code == 400
    assert over.json()["type"] == PROBLEMS + "rule-cap"
    assert "2 rules" in over.json()["detail"]
    assert (await rules_now(client))["meta"]["result_count"] == 1
    assert (await add(client, {"value": "a"})).status_code == 201
    assert (await add(client, {"value": "b"})).json()["type"] == PROBLEMS + "rule-cap"
    # A duplicate is not a new rule, so it does not count against the cap.
    assert (await add(client, {"value": "a"})).status_code == 200


async def test_default_caps_are_x_documented_ones(client: httpx.AsyncClient) -> None:
    long_rule = " OR ".join(["refund"] * 205)[:1024].rsplit(" OR", 1)[0]
    assert (await add(client, {"value": long_rule})).status_code == 201
    response = await add(client, {"value": "y" * 1025})
    assert response.json()["errors"][0]["details"] == ["Rule length exceeds the max allowed (1024)."]


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b"null",
        b'"add"',
        b"{}",
        b'{"add": []}',
        b'{"add": {"value": "a"}}',
        b'{"add": [{"value": 1}]}',
        b'{"add": [{"tag": "no value"}]}',
        b'{"add": [{"value": "a", "extra": 1}]}',
        b'{"add": [{"value": "a", "tag": ["t"]}]}',
        b'{"add": [{"value": "a"}], "delete": {"ids": ["1"]}}',
        b'{"delete": {}}',
        b'{"delete": {"ids": []}}',
        b'{"delete": {"ids": ["abc"]}}',
        b'{"delete": {"ids": [1]}}',
        b'{"delete": {"ids": ["12345678901234567890"]}}',
        b'{"delete": {"ids": ["1"], "values": ["a"]}}',
        b'{"delete": {"values": "a"}}',
        b'{"update": [{"value": "a"}]}',
        b'{"add": [{"value": "\\ud800"}]}',
        b"\xff\xfe",
    ],
)
async def test_malformed_rule_bodies_are_400(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        RULES, content=content, headers=APP_BEARER | {"content-type": "application/json"}
    )
    assert response.status_code == 400, response.text
    assert response.json()["type"] == PROBLEMS + "invalid-request"
    assert (await rules_now(client))["meta"]["result_count"] == 0


@pytest.mark.parametrize(
    "value",
    ["(" * 40 + "a" + ")" * 40, "(((", '"unterminated', "-", "a OR", "from:", "x" * 1025, "", "   "],
)
async def test_hostile_rule_values_are_invalid_rules(client: httpx.AsyncClient, value: str) -> None:
    response = await add(client, {"value": value})
    assert response.status_code == 200
    (error,) = response.json()["errors"]
    assert error["type"] == PROBLEMS + "invalid-rules" and error["value"] == value


async def test_odd_but_valid_rule_values_are_stored_verbatim(client: httpx.AsyncClient) -> None:
    values = ["<script>alert(1)</script>", "☃ snow", '"exact phrase" -spam', "$CASH OR #tag", "a\tb"]
    created = await add(client, *({"value": value, "tag": value} for value in values))
    assert created.status_code == 201
    assert [rule["value"] for rule in (await rules_now(client))["data"]] == values


async def test_oversized_rule_body_is_413(client: httpx.AsyncClient) -> None:
    rules = [{"value": f"word{n}"} for n in range(MAX_BODY_BYTES // 10)]
    response = await client.post(RULES, json={"add": rules}, headers=APP_BEARER)
    assert response.status_code == 413


async def test_rule_query_parameters_are_checked(client: httpx.AsyncClient) -> None:
    for params in ({"nope": "1"}, {"dry_run": "maybe"}, {"delete_all": "yes"}):
        response = await client.post(RULES, params=params, json={"add": [{"value": "a"}]}, headers=APP_BEARER)
        assert response.status_code == 400, params
    for params in ({"max_results": "0"}, {"max_results": "1001"}, {"ids": "abc"}, {"ids": ""}, {"x": "1"}):
        response = await client.get(RULES, params=params, headers=APP_BEARER)
        assert response.status_code == 400, params
        assert response.json()["type"] == PROBLEMS + "invalid-request"
    bad_token = await client.get(RULES, params={"pagination_token": "!!"}, headers=APP_BEARER)
    assert bad_token.status_code == 400


async def test_rules_paginate(client: httpx.AsyncClient) -> None:
    created = (await add(client, *({"value": f"topic{n}"} for n in range(5)))).json()["data"]
    first = await rules_now(client, max_results="2")
    assert first["data"] == created[:2] and first["meta"]["result_count"] == 2
    second = await rules_now(client, max_results="2", pagination_token=first["meta"]["next_token"])
    assert second["data"] == created[2:4]
    third = await rules_now(client, max_results="2", pagination_token=second["meta"]["next_token"])
    assert third["data"] == created[4:] and "next_token" not in third["meta"]


async def test_rules_and_stream_take_the_app_token_only(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    for method, path in (("GET", RULES), ("POST", RULES), ("GET", STREAM)):
        anonymous = await client.request(method, path)
        assert anonymous.status_code == 401
        assert anonymous.json()["detail"] == "Unauthorized"

        as_user = await client.request(method, path, headers=alice.auth)
        assert as_user.status_code == 403
        assert as_user.json()["type"] == PROBLEMS + "unsupported-authentication"
        assert "OAuth 2.0 User Context is forbidden" in as_user.json()["detail"]

        as_brand = await client.request(method, path, auth=brand())
        assert as_brand.status_code == 403
        assert "OAuth 1.0a User Context is forbidden" in as_brand.json()["detail"]
        assert "Application-Only]" in as_brand.json()["detail"]


async def test_rules_are_rate_limited_per_app(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.configure(rate_limits={"stream_rules_read_app": 2, "stream_rules_write_app": 1})
    for _ in range(2):
        assert (await client.get(RULES, headers=APP_BEARER)).status_code == 200
    limited = await client.get(RULES, headers=APP_BEARER)
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-limit"] == "2" and limited.headers["x-rate-limit-remaining"] == "0"
    assert (await add(client, {"value": "a"})).headers["x-rate-limit-remaining"] == "0"
    assert (await add(client, {"value": "b"})).status_code == 429


async def test_bad_stream_parameters_are_400(client: httpx.AsyncClient) -> None:
    for params in (
        {"backfill_minutes": "6"},
        {"backfill_minutes": "-1"},
        {"tweet.fields": "nope"},
        {"expansions": "author_id,bogus"},
        {"query": "x"},
    ):
        response = await client.get(STREAM, params=params, headers=APP_BEARER)
        assert response.status_code == 400, params
        assert response.json()["type"] == PROBLEMS + "invalid-request"


async def test_disconnect_hook_without_a_stream_is_409(client: httpx.AsyncClient) -> None:
    response = await client.post("/_sim/stream/disconnect", json={"mode": "drop"})
    assert response.status_code == 409
    assert (await client.post("/_sim/stream/disconnect", json={"mode": "explode"})).status_code == 400
    state = (await client.get("/_sim/stream")).json()
    assert state == {"connected": False, "connections": 0, "lines_sent": 0, "keepalives_sent": 0, "rules": 0}


async def test_the_hub_matches_queues_and_backfills_by_the_simulator_clock() -> None:
    now = [time.time()]
    sim = Simulator(SimConfig(), clock=lambda: now[0])
    alice = await sim.store.create_user("alice", "Alice")
    await sim.store.create_tweet(author=alice, text="@ExampleBankHelp card lost")
    sim.rules.add([NewRule("card"), NewRule("@ExampleBankHelp -is:reply", "brand")], **CAPS)
    (tweet,) = sim.store.tweets()
    matched = sim.rules.matching(tweet, sim.store.username_of)
    assert [rule.value for rule in matched] == ["card", "@ExampleBankHelp -is:reply"]

    def open_since(seconds_ago: float) -> Any:
        return sim.stream.open(
            selection=Selection(), keepalive_seconds=lambda: 1.0, backfill_since=now[0] - seconds_ago
        )

    now[0] += 6 * 60  # six minutes later: too old for a five-minute backfill
    connection = open_since(5 * 60)
    assert connection.pending == 0
    assert open_since(5 * 60) is None  # one connection per app
    sim.stream.release(connection)
    now[0] -= 2 * 60
    connection = open_since(5 * 60)
    assert connection.pending == 1
    await sim.store.create_tweet(author=alice, text="card found")
    await sim.store.create_tweet(author=alice, text="unrelated")
    assert connection.pending == 2
    sim.stream.release(connection)
    await sim.store.create_tweet(author=alice, text="card again")  # nobody connected: dropped
    assert connection.pending == 2


CAPS = {"max_rules": 10, "max_length": 100, "dry_run": False}


# -- the stream, over a socket -------------------------------------------------------------------


def test_stream_delivers_matching_tweets(live: Live) -> None:
    brand_rule, refund_rule = live.add_rules(
        {"value": "@ExampleBankHelp -is:retweet", "tag": "brand"}, {"value": "refund"}
    )
    carol = live.user("carol")
    params = {
        "tweet.fields": "author_id,created_at,conversation_id",
        "expansions": "author_id",
        "user.fields": "username,created_at",
    }
    with live.stream(**params) as lines:
        assert lines.response.headers["content-type"].startswith("application/json")
        assert lines.response.headers["x-rate-limit-limit"] == "50"
        assert "content-length" not in lines.response.headers
        live.tweet(carol, "nothing to see here")
        mention_id = live.tweet(carol, "@ExampleBankHelp where is my refund?")
        raw = lines.next()
        while not raw:
            raw = lines.next()
        line = json.loads(raw)
        assert list(line) == ["data", "includes", "matching_rules"]
        assert line["data"]["id"] == mention_id
        assert line["data"]["author_id"] == carol["id"]
        assert line["data"]["conversation_id"] == mention_id
        assert line["data"]["edit_history_tweet_ids"] == [mention_id]
        assert "created_at" in line["data"]
        (user,) = line["includes"]["users"]
        assert (user["username"], set(user)) == ("carol", {"id", "name", "username", "created_at"})
        assert line["matching_rules"] == [
            {"id": brand_rule["id"], "tag": "brand"},
            {"id": refund_rule["id"], "tag": ""},
        ]

        # The brand's own tweets come through too when they match: Haven must filter them.
        brand_tweet = live.http.post(
            "/2/tweets",
            json={"text": "Refund times are back to normal", "reply": {"in_reply_to_tweet_id": mention_id}},
            auth=OAuth1(),
        )
        assert brand_tweet.status_code == 201
        echoed = lines.next_json()
        assert echoed["data"]["id"] == brand_tweet.json()["data"]["id"]
        assert echoed["data"]["author_id"] == CONFIG.brand_user_id
        assert echoed["matching_rules"] == [{"id": refund_rule["id"], "tag": ""}]
    live.wait_until_disconnected()
    state = live.stream_state()
    assert state["lines_sent"] == 2 and state["connections"] == 1


def test_default_fields_and_rule_changes_while_connected(live: Live) -> None:
    carol = live.user("carol")
    with live.stream() as lines:
        live.tweet(carol, "fees are too high")  # no rule yet: not delivered
        (rule,) = live.add_rules({"value": "fees", "tag": "fees"})
        tweet_id = live.tweet(carol, "fees again")
        line = lines.next_json()
        assert line == {
            "data": {"id": tweet_id, "text": "fees again", "edit_history_tweet_ids": [tweet_id]},
            "matching_rules": [{"id": rule["id"], "tag": "fees"}],
        }
        live.http.post(RULES, json={"delete": {"ids": [rule["id"]]}}, headers=APP_BEARER).raise_for_status()
        live.tweet(carol, "fees forever")
        assert lines.within(3 * KEEPALIVE_SECONDS) == []  # the rule is gone
    assert live.stream_state()["lines_sent"] == 1


def test_keepalives_are_bare_crlf_at_the_configured_interval(live: Live) -> None:
    with live.stream() as lines:
        started = time.monotonic()
        assert [lines.next() for _ in range(3)] == [b"", b"", b""]
        elapsed = time.monotonic() - started
        assert 2 * KEEPALIVE_SECONDS <= elapsed < 3 * KEEPALIVE_SECONDS + 1.0
        state = live.stream_state()
        assert state["connected"] is True and state["keepalives_sent"] >= 3


def test_one_connection_per_app(live: Live) -> None:
    with live.stream():
        second = live.http.get(STREAM, headers=APP_BEARER)
        assert second.status_code == 429
        assert second.json() == TOO_MANY_CONNECTIONS
        assert second.headers["content-type"] == "application/problem+json"
        assert second.headers["x-rate-limit-remaining"] == "48"
    live.wait_until_disconnected()
    with live.stream() as lines:
        assert lines.next() == b""
    assert live.stream_state()["connections"] == 2


def test_stream_connects_are_rate_limited(live: Live) -> None:
    live.configure(rate_limits={"stream_connect_app": 1})
    with live.stream():
        pass
    live.wait_until_disconnected()
    limited = live.http.get(STREAM, headers=APP_BEARER)
    assert limited.status_code == 429
    assert limited.json()["title"] == "Too Many Requests"


def test_backfill_replays_recent_matching_tweets_first(live: Live) -> None:
    (rule,) = live.add_rules({"value": "card", "tag": "cards"})
    carol = live.user("carol")
    older = [live.tweet(carol, f"my card {n} was eaten") for n in range(3)]
    live.tweet(carol, "unrelated")
    with live.stream(backfill_minutes="0") as lines:
        assert lines.within(2 * KEEPALIVE_SECONDS) == []  # no backfill asked for
    live.wait_until_disconnected()
    with live.stream(backfill_minutes="2") as lines:
        replayed = [lines.next_json() for _ in older]
        assert [line["data"]["id"] for line in replayed] == older
        assert replayed[0]["matching_rules"] == [{"id": rule["id"], "tag": "cards"}]
        newer = live.tweet(carol, "card still missing")
        assert lines.next_json()["data"]["id"] == newer


def test_disconnect_hook_error_mode(live: Live) -> None:
    carol = live.user("carol")
    live.add_rules({"value": "hello"})
    with live.stream() as lines:
        tweet_id = live.tweet(carol, "hello there")
        assert lines.next_json()["data"]["id"] == tweet_id
        response = live.http.post("/_sim/stream/disconnect", json={"mode": "error"})
        assert response.status_code == 200 and response.json()["connected"] is False
        rest = [line for line in lines.rest() if line]
        assert [json.loads(line) for line in rest] == [OPERATIONAL_DISCONNECT]
        assert OPERATIONAL_DISCONNECT["errors"][0]["type"].endswith("/operational-disconnect")
    # The slot is free again at once.
    with live.stream() as lines:
        assert lines.next() == b""


def test_disconnect_hook_drop_mode(live: Live) -> None:
    with live.stream() as lines:
        assert lines.next() == b""
        live.http.post("/_sim/stream/disconnect", json={"mode": "drop"}).raise_for_status()
        with pytest.raises(httpx.RemoteProtocolError):
            lines.rest()
    assert live.stream_state()["connected"] is False


def test_reset_drops_an_open_stream(live: Live) -> None:
    with live.stream() as lines:
        live.http.post("/_sim/reset").raise_for_status()
        with pytest.raises(httpx.RemoteProtocolError):
            lines.rest()
    assert live.stream_state() == {
        "connected": False,
        "connections": 0,
        "lines_sent": 0,
        "keepalives_sent": 0,
        "rules": 0,
    }


# -- tweepy, an independent client ---------------------------------------------------------------


class Collector(tweepy.StreamingClient):
    def __init__(self, base_url: str) -> None:
        super().__init__(CONFIG.app_bearer_token, max_retries=0)
        self.session = RebasedSession(base_url)
        self.connected = threading.Event()
        self.received: queue.Queue[tweepy.StreamResponse] = queue.Queue()

    def on_connect(self) -> None:
        self.connected.set()

    def on_response(self, response: tweepy.StreamResponse) -> None:
        self.received.put(response)


@pytest.mark.e2e
def test_tweepy_streaming_client(live: Live) -> None:
    client = Collector(live.base_url)
    dry = client.add_rules(tweepy.StreamRule("@ExampleBankHelp", tag="brand"), dry_run=True)
    assert dry.meta["summary"]["created"] == 1
    assert client.get_rules().data is None

    added = client.add_rules(
        [tweepy.StreamRule("@ExampleBankHelp", tag="brand"), tweepy.StreamRule("refund")]
    )
    brand_rule, refund_rule = added.data
    assert (brand_rule.value, brand_rule.tag) == ("@ExampleBankHelp", "brand")
    assert [rule.id for rule in client.get_rules().data] == [brand_rule.id, refund_rule.id]
    duplicate = client.add_rules(tweepy.StreamRule("refund"))
    assert duplicate.errors[0]["title"] == "DuplicateRule"

    carol = live.user("carol")
    thread = client.filter(threaded=True, tweet_fields=["author_id"], expansions=["author_id"])
    try:
        assert client.connected.wait(5)
        tweet_id = live.tweet(carol, "@ExampleBankHelp refund please")
        response = client.received.get(timeout=5)
        assert response.data.id == int(tweet_id)
        assert response.data.author_id == int(carol["id"])
        assert response.includes["users"][0].username == "carol"
        assert [(rule.id, rule.tag) for rule in response.matching_rules] == [
            (brand_rule.id, "brand"),
            (refund_rule.id, ""),
        ]
    finally:
        client.disconnect()
        thread.join(timeout=5)
    assert not thread.is_alive()

    deleted = client.delete_rules([brand_rule.id, refund_rule.id])
    assert deleted.meta["summary"] == {"deleted": 2, "not_deleted": 0}
    assert client.get_rules().data is None


@pytest.mark.e2e
def test_tweepy_reconnects_after_an_operational_disconnect(live: Live) -> None:
    live.add_rules({"value": "hello"})
    client = Collector(live.base_url)
    client.max_retries = 3
    errors: list[Any] = []
    client.on_errors = errors.append  # type: ignore[method-assign]
    carol = live.user("carol")
    thread = client.filter(threaded=True)
    try:
        assert client.connected.wait(5)
        client.connected.clear()
        live.http.post("/_sim/stream/disconnect", json={"mode": "error"}).raise_for_status()
        assert client.connected.wait(5)  # tweepy reconnected on its own
        tweet_id = live.tweet(carol, "hello again")
        while (response := client.received.get(timeout=5)).data is None:
            pass
        assert response.data.id == int(tweet_id)
    finally:
        client.disconnect()
        thread.join(timeout=5)
    assert errors and errors[0][0]["title"] == "operational-disconnect"
    assert live.stream_state()["connections"] == 2


def test_user_tokens_do_not_open_the_stream(live: Live) -> None:
    carol = live.user("carol")
    response = live.http.get(STREAM, headers=bearer(carol["access_token"]))
    assert response.status_code == 403
    assert live.stream_state()["connections"] == 0
