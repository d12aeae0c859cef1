"""Helpers for the filtered-stream and fault tests: read a live stream line by line over a socket."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from xsim_support import APP_BEARER

STREAM = "/2/tweets/search/stream"
RULES = "/2/tweets/search/stream/rules"
#: Short enough to keep the tests fast, long enough not to flood them.
KEEPALIVE_SECONDS = 0.2


class Lines:
    """The lines of an NDJSON stream, split on ``\\r\\n`` exactly as sent (keep-alives are ``b""``)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self._chunks = response.iter_raw()
        self._buffer = b""

    def next(self) -> bytes:
        """The next raw line without its ``\\r\\n``; StopIteration when the body ended cleanly."""
        while b"\r\n" not in self._buffer:
            self._buffer += next(self._chunks)
        line, _, self._buffer = self._buffer.partition(b"\r\n")
        return line

    def next_line(self) -> bytes:
        """The next line that is not a keep-alive."""
        while not (line := self.next()):
            pass
        return line

    def next_json(self) -> dict[str, Any]:
        """The next line that is not a keep-alive, parsed."""
        document: dict[str, Any] = json.loads(self.next_line())
        return document

    def within(self, seconds: float) -> list[bytes]:
        """The non-empty lines read in the next ``seconds`` (keep-alives keep this from blocking)."""
        deadline = time.monotonic() + seconds
        lines = []
        while time.monotonic() < deadline:
            if line := self.next():
                lines.append(line)
        return lines

    def rest(self) -> list[bytes]:
        """Every line until the body ends."""
        lines = []
        while True:
            try:
                lines.append(self.next())
            except StopIteration:
                return lines


class Live:
    """A synchronous client for the live server, with xsim shortcuts."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.http = httpx.Client(base_url=base_url, timeout=5)

    def configure(self, **changes: Any) -> None:
        self.http.post("/_sim/config", json=changes).raise_for_status()

    def faults(self, **config: Any) -> None:
        self.http.post("/_sim/faults", json=config).raise_for_status()

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = self.http.get("/_sim/faults").json()["counts"]
        return counts

    def add_rules(self, *rules: dict[str, str]) -> list[dict[str, str]]:
        response = self.http.post(RULES, json={"add": list(rules)}, headers=APP_BEARER)
        assert response.status_code == 201, response.text
        data: list[dict[str, str]] = response.json()["data"]
        return data

    def user(self, username: str) -> dict[str, str]:
        response = self.http.post("/_sim/users", json={"username": username})
        assert response.status_code == 201, response.text
        user: dict[str, str] = response.json()
        return user

    def tweet(self, user: dict[str, str], text: str) -> str:
        headers = {"Authorization": f"Bearer {user['access_token']}"}
        response = self.http.post("/2/tweets", json={"text": text}, headers=headers)
        assert response.status_code == 201, response.text
        tweet_id: str = response.json()["data"]["id"]
        return tweet_id

    def stream_state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.http.get("/_sim/stream").json()
        return state

    def wait_until_disconnected(self, seconds: float = 5) -> None:
        deadline = time.monotonic() + seconds
        while self.stream_state()["connected"]:
            assert time.monotonic() < deadline, "the stream slot was not freed"
            time.sleep(0.02)

    @contextmanager
    def stream(self, **params: str) -> Iterator[Lines]:
        """An open stream connection; closing it (leaving the block) hangs up."""
        with (
            httpx.Client(base_url=self.base_url, timeout=5) as client,
            client.stream("GET", STREAM, params=params, headers=APP_BEARER) as response,
        ):
            assert response.status_code == 200, response.read()
            yield Lines(response)

    def close(self) -> None:
        self.http.close()
