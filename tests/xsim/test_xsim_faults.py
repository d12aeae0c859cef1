"""Fault injection: ``/_sim/faults``, request faults on ``/2/*`` and stream faults.

Request faults that answer (429, 500, 503) are tested in process; the ``timeout`` fault and the
stream faults only make sense on a real socket and are tested against the live server.
"""

from __future__ import annotations

import json
import math
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
import uvicorn
from stream_support import KEEPALIVE_SECONDS, Live
from xsim_support import APP_BEARER, BRAND_ID, CONFIG, OAuth1, Sim

from xsim.app import create_app
from xsim.connection import ConnectionDropped
from xsim.faults import FaultConfig
from xsim.stream import OPERATIONAL_DISCONNECT

TOO_MANY = {"title": "Too Many Requests", "detail": "Too Many Requests", "type": "about:blank", "status": 429}
MENTIONS = f"/2/users/{BRAND_ID}/mentions"


@pytest.fixture
def live(live_xsim: str) -> Iterator[Live]:
    live = Live(live_xsim)
    live.configure(stream_keepalive_seconds=KEEPALIVE_SECONDS)
    yield live
    live.http.delete("/_sim/faults")
    live.close()


async def set_faults(client: httpx.AsyncClient, **config: Any) -> dict[str, Any]:
    response = await client.post("/_sim/faults", json=config)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def counts(client: httpx.AsyncClient) -> dict[str, int]:
    body: dict[str, int] = (await client.get("/_sim/faults")).json()["counts"]
    return body


# -- /_sim/faults --------------------------------------------------------------------------------


async def test_fault_config_round_trip(client: httpx.AsyncClient) -> None:
    initial = (await client.get("/_sim/faults")).json()
    assert initial == {"config": FaultConfig().model_dump(), "counts": {}}

    body = await set_faults(client, error_rate=0.25, error_kinds={"503": 1}, seed=3)
    assert body["config"] == FaultConfig(error_rate=0.25, error_kinds={"503": 1}, seed=3).model_dump()
    assert (await client.get("/_sim/faults")).json() == body

    cleared = await client.delete("/_sim/faults")
    assert cleared.json() == initial

    await set_faults(client, error_rate=1, error_kinds={"500": 1})
    assert (await client.get("/2/tweets/1", headers=APP_BEARER)).status_code == 500
    await client.post("/_sim/reset")
    assert (await client.get("/_sim/faults")).json() == initial


@pytest.mark.parametrize(
    ("content", "needle"),
    [
        (b'{"error_rate": 2}', "$.error_rate"),
        (b'{"error_rate": "often"}', "$.error_rate"),
        (b'{"error_kinds": {"418": 1}}', "$.error_kinds"),
        (b'{"latency_ms": -1}', "$.latency_ms"),
        (b'{"timeout_seconds": 301}', "$.timeout_seconds"),
        (b'{"duplicate_rate": -0.1}', "$.duplicate_rate"),
        (b'{"chaos": true}', "$.chaos"),
        (b'{"seed": "x"}', "$.seed"),
        (b"[]", "$"),
        (b"{", "not valid JSON"),
    ],
)
async def test_bad_fault_configs_are_400(client: httpx.AsyncClient, content: bytes, needle: str) -> None:
    response = await client.post(
        "/_sim/faults", content=content, headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert needle in body["errors"][0]["message"]
    assert (await client.get("/_sim/faults")).json()["config"] == FaultConfig().model_dump()


# -- request faults, in process --------------------------------------------------------------------


@pytest.mark.parametrize("status", [500, 503])
async def test_server_errors(client: httpx.AsyncClient, status: int) -> None:
    await set_faults(client, error_rate=1, error_kinds={str(status): 1})
    for path in (MENTIONS, "/2/tweets/search/recent?query=hi", "/2/tweets/search/stream/rules"):
        response = await client.get(path, headers=APP_BEARER)
        assert response.status_code == status
        assert response.json()["type"] == "about:blank" and response.json()["status"] == status
        assert response.headers["content-type"] == "application/problem+json"
        assert response.headers["x-content-type-options"] == "nosniff"
    assert await counts(client) == {str(status): 3}


async def test_injected_429_carries_rate_limit_headers(client: httpx.AsyncClient, sim: Sim) -> None:
    await set_faults(client, error_rate=1, error_kinds={"429": 1}, rate_limit_reset_seconds=30)
    response = await client.get(MENTIONS, headers=APP_BEARER)
    assert response.status_code == 429
    assert response.json() == TOO_MANY
    assert response.headers["x-rate-limit-remaining"] == "0"
    assert response.headers["x-rate-limit-limit"] == "0"  # the handler never ran
    assert abs(int(response.headers["x-rate-limit-reset"]) - (math.ceil(time.time()) + 30)) <= 2

    # The real window was not touched.
    await client.delete("/_sim/faults")
    real = await client.get(MENTIONS, headers=APP_BEARER)
    assert real.headers["x-rate-limit-remaining"] == "449"


async def test_after_effect_writes_take_effect(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    await set_faults(client, error_rate=1, error_kinds={"500": 1}, after_effect_share=1)
    response = await client.post("/2/tweets", json={"text": "@ExampleBankHelp hello?"}, headers=alice.auth)
    assert response.status_code == 500
    (stored,) = (await client.get("/_sim/tweets")).json()["tweets"]
    assert stored["text"] == "@ExampleBankHelp hello?" and stored["author_username"] == "alice"
    # Retrying blindly now hits the duplicate rule: the ambiguity a careful client must resolve.
    await client.delete("/_sim/faults")
    retry = await client.post("/2/tweets", json={"text": "@ExampleBankHelp hello?"}, headers=alice.auth)
    assert retry.status_code == 403

    await set_faults(client, error_rate=1, error_kinds={"429": 1}, after_effect_share=1)
    deleted = await client.delete(f"/2/tweets/{stored['id']}", headers=alice.auth)
    assert deleted.status_code == 429
    assert deleted.headers["x-rate-limit-limit"] == "50"  # the handler ran: its real limit
    assert deleted.headers["x-rate-limit-remaining"] == "0"
    assert (await client.get("/_sim/tweets")).json()["tweets"][0]["deleted"] is True
    assert await counts(client) == {"429": 1, "after_effect": 1}


async def test_without_after_effect_writes_do_nothing(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    await set_faults(client, error_rate=1, error_kinds={"503": 1}, after_effect_share=0)
    response = await client.post("/2/tweets", json={"text": "never stored"}, auth=brand())
    assert response.status_code == 503
    assert (await client.get("/_sim/tweets")).json()["tweets"] == []
    added = await client.post(
        "/2/tweets/search/stream/rules", json={"add": [{"value": "x"}]}, headers=APP_BEARER
    )
    assert added.status_code == 503
    await client.delete("/_sim/faults")
    rules = await client.get("/2/tweets/search/stream/rules", headers=APP_BEARER)
    assert rules.json()["meta"]["result_count"] == 0


async def test_reads_never_run_ahead(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=1, error_kinds={"500": 1}, after_effect_share=1)
    assert (await client.get(MENTIONS, headers=APP_BEARER)).status_code == 500
    assert await counts(client) == {"500": 1}


async def test_only_the_v2_api_is_faulted(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=1, error_kinds={"500": 1, "timeout": 1}, latency_ms=0)
    for path in ("/_sim/state", "/", "/static/xsim.css", "/ui/threads?user=nobody", "/_sim/stream"):
        assert (await client.get(path)).status_code in (200, 404), path
    token = await client.post(
        "/oauth2/token",
        auth=(CONFIG.consumer_key, CONFIG.consumer_secret),
        data={"grant_type": "client_credentials"},
    )
    assert token.status_code == 200
    assert await counts(client) == {}


async def test_a_seed_repeats_the_same_faults(client: httpx.AsyncClient) -> None:
    async def run() -> list[int]:
        await set_faults(client, error_rate=0.5, error_kinds={"500": 1, "503": 2, "429": 1}, seed=42)
        return [(await client.get(MENTIONS, headers=APP_BEARER)).status_code for _ in range(30)]

    first = await run()
    assert await run() == first
    assert set(first) == {200, 429, 500, 503}
    tally = await counts(client)
    assert sum(tally.values()) == sum(1 for status in first if status != 200)


async def test_latency_delays_api_requests(client: httpx.AsyncClient) -> None:
    await set_faults(client, latency_ms=150)
    started = time.monotonic()
    assert (await client.get(MENTIONS, headers=APP_BEARER)).status_code == 200
    assert time.monotonic() - started >= 0.15


async def test_timeout_without_a_socket_raises_in_process(client: httpx.AsyncClient) -> None:
    await set_faults(client, error_rate=1, error_kinds={"timeout": 1}, timeout_seconds=0)
    with pytest.raises(ConnectionDropped):
        await client.get(MENTIONS, headers=APP_BEARER)
    assert await counts(client) == {"timeout": 1}


# -- the timeout fault, on a real socket -----------------------------------------------------------


def test_timeout_closes_the_socket_without_a_byte(live: Live) -> None:
    live.faults(error_rate=1, error_kinds={"timeout": 1}, timeout_seconds=0.3)
    address = urlsplit(live.base_url)
    with socket.create_connection((address.hostname, address.port), timeout=5) as sock:
        request = (
            f"GET {MENTIONS} HTTP/1.1\r\nHost: x\r\nAuthorization: {APP_BEARER['Authorization']}\r\n\r\n"
        )
        started = time.monotonic()
        sock.sendall(request.encode())
        assert sock.recv(1024) == b""  # end of stream: no status line, nothing at all
        # The server held the request for timeout_seconds (the event loop may wake a hair early).
        assert time.monotonic() - started >= 0.29
    assert live.counts() == {"timeout": 1}


@pytest.fixture(scope="module")
def h11_server() -> Iterator[str]:
    """xsim on uvicorn's pure-Python h11 protocol, the fallback when httptools is missing."""
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(), host="127.0.0.1", port=0, log_level="warning", lifespan="off", http="h11"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "xsim did not start"
        time.sleep(0.01)
    yield f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
    server.should_exit = True
    thread.join(timeout=5)


def test_hanging_up_works_on_h11_too(h11_server: str) -> None:
    live = Live(h11_server)
    live.configure(stream_keepalive_seconds=KEEPALIVE_SECONDS)
    with live.stream() as lines:
        assert lines.next() == b""
        live.http.post("/_sim/stream/disconnect", json={"mode": "drop"}).raise_for_status()
        with pytest.raises(httpx.RemoteProtocolError):
            lines.rest()
    live.faults(error_rate=1, error_kinds={"timeout": 1}, timeout_seconds=0.1)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{h11_server}{MENTIONS}", headers=APP_BEARER, timeout=5)
    live.http.post("/_sim/reset").raise_for_status()
    live.close()


def test_timeout_looks_like_a_timeout_or_a_hang_up_to_clients(live: Live) -> None:
    live.faults(error_rate=1, error_kinds={"timeout": 1}, timeout_seconds=5)
    with pytest.raises(httpx.ReadTimeout):
        httpx.get(f"{live.base_url}{MENTIONS}", headers=APP_BEARER, timeout=0.3)

    live.faults(error_rate=1, error_kinds={"timeout": 1}, timeout_seconds=0.1)
    with pytest.raises(httpx.RemoteProtocolError, match="without sending a response"):
        httpx.get(f"{live.base_url}{MENTIONS}", headers=APP_BEARER, timeout=5)

    live.http.delete("/_sim/faults")
    assert live.http.get(MENTIONS, headers=APP_BEARER).status_code == 200


def test_a_timed_out_write_may_still_have_happened(live: Live) -> None:
    live.faults(error_rate=1, error_kinds={"timeout": 1}, timeout_seconds=0.1, after_effect_share=1)
    with pytest.raises(httpx.RemoteProtocolError):
        httpx.post(f"{live.base_url}/2/tweets", json={"text": "Are you there?"}, auth=OAuth1(), timeout=5)
    (tweet,) = live.http.get("/_sim/tweets").json()["tweets"]
    assert tweet["text"] == "Are you there?"
    assert live.counts() == {"after_effect": 1, "timeout": 1}


# -- stream faults -------------------------------------------------------------------------------


def _ids(lines: list[bytes]) -> list[str]:
    return [json.loads(line)["data"]["id"] for line in lines]


def test_duplicated_stream_lines(live: Live) -> None:
    live.add_rules({"value": "hello"})
    carol = live.user("carol")
    live.faults(duplicate_rate=1)
    with live.stream() as lines:
        first = live.tweet(carol, "hello one")
        second = live.tweet(carol, "hello two")
        assert _ids([lines.next_line() for _ in range(4)]) == [first, first, second, second]
    assert live.counts() == {"duplicate": 2}


def test_reordered_stream_lines_and_the_held_line_is_flushed(live: Live) -> None:
    live.configure(stream_keepalive_seconds=0.5)
    live.add_rules({"value": "hello"})
    carol = live.user("carol")
    live.faults(reorder_rate=1)
    with live.stream() as lines:
        first = live.tweet(carol, "hello one")
        second = live.tweet(carol, "hello two")
        assert _ids([lines.next_line() for _ in range(2)]) == [second, first]
        third = live.tweet(carol, "hello three")  # held, and nothing follows it
        started = time.monotonic()
        assert _ids([lines.next_line()]) == [third]
        assert time.monotonic() - started >= 0.3  # it waited for the keep-alive tick
    assert live.counts() == {"reorder": 2}


def test_stream_disconnect_faults_take_both_forms(live: Live) -> None:
    live.add_rules({"value": "hello"})
    carol = live.user("carol")
    live.faults(stream_disconnect_rate=1, seed=7)
    seen: list[str] = []
    for n in range(12):
        with live.stream() as lines:
            tweet_id = live.tweet(carol, f"hello {n}")
            assert _ids([lines.next_line()]) == [tweet_id]
            try:
                rest = [line for line in lines.rest() if line]
            except httpx.RemoteProtocolError:
                seen.append("drop")
            else:
                assert [json.loads(line) for line in rest] == [OPERATIONAL_DISCONNECT]
                seen.append("error")
        live.wait_until_disconnected()
        if {"drop", "error"} <= set(seen):
            break
    assert {"drop", "error"} <= set(seen)
    assert live.counts() == {"stream_disconnect": len(seen)}
