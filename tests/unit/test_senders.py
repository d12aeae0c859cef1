"""Code senders: the demo phone's inbox, and the HTTP gateway sender against a real local server."""

from __future__ import annotations

import json
import socket
import threading
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest

from haven.handoff import senders
from haven.handoff.senders import CodeSender, DemoPhone, HttpCodeSender, PhoneMessage, SendFailed

DESTINATION = "+447700900123"
TEXT = "Your ExampleBank code is 493817"
TOKEN = "gateway-token-123"


# -- DemoPhone ---------------------------------------------------------------------------------


async def test_demo_phone_newest_first_per_destination() -> None:
    phone = DemoPhone()
    before = datetime.now(UTC)
    for n in range(3):
        await phone.send("+447700900123", f"code {n}")
    await phone.send("maria@example.com", "mail code")
    messages = phone.messages("+447700900123")
    assert [m.text for m in messages] == ["code 2", "code 1", "code 0"]
    assert all(m.destination == "+447700900123" for m in messages)
    assert all(m.sent_at.tzinfo is not None and m.sent_at.utcoffset() == timedelta(0) for m in messages)
    assert before <= messages[-1].sent_at <= messages[0].sent_at <= datetime.now(UTC)
    assert phone.messages("maria@example.com") == [
        PhoneMessage("maria@example.com", "mail code", phone.messages("maria@example.com")[0].sent_at)
    ]
    assert phone.messages("+12025550100") == []


async def test_demo_phone_all_destinations_interleaved() -> None:
    phone = DemoPhone()
    await phone.send("a", "1")
    await phone.send("b", "2")
    await phone.send("a", "3")
    await phone.send("c", "4")
    assert [(m.destination, m.text) for m in phone.messages()] == [
        ("c", "4"),
        ("a", "3"),
        ("b", "2"),
        ("a", "1"),
    ]
    assert phone.destinations() == ["c", "a", "b"]  # most recently messaged first


async def test_demo_phone_keeps_the_last_n_per_destination() -> None:
    phone = DemoPhone(keep=2)
    for n in range(5):
        await phone.send("a", f"a{n}")
    await phone.send("b", "b0")
    assert [m.text for m in phone.messages("a")] == ["a4", "a3"]
    assert [m.text for m in phone.messages()] == ["b0", "a4", "a3"]  # the limit is per destination


def test_demo_phone_starts_empty_and_checks_keep() -> None:
    phone = DemoPhone()
    assert phone.messages() == [] and phone.destinations() == []
    with pytest.raises(ValueError, match="keep"):
        DemoPhone(keep=0)


def test_senders_are_code_senders() -> None:
    demo: CodeSender = DemoPhone()
    gateway: CodeSender = HttpCodeSender("http://127.0.0.1:9/send", TOKEN)
    assert demo and gateway


# -- HttpCodeSender against a real server --------------------------------------------------------


@dataclass
class Gateway:
    """A tiny SMS/e-mail gateway on a real socket that records what it was sent."""

    url: str
    status: int = 202
    delay: float = 0.0
    requests: list[dict[str, Any]] = field(default_factory=list)


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    state = Gateway(url="")

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            state.requests.append({"path": self.path, "headers": dict(self.headers), "body": body})
            time.sleep(state.delay)
            self.send_response(state.status)
            if 300 <= state.status < 400:
                self.send_header("Location", "/elsewhere")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/v1/messages"
    yield state
    server.shutdown()
    server.server_close()
    thread.join(timeout=5)


def assert_safe(error: SendFailed) -> None:
    """Neither the destination nor the code may reach a log line or a traceback."""
    logged = "".join(traceback.format_exception(error))
    for secret in (DESTINATION, TEXT, "493817", "7700900123", TOKEN):
        assert secret not in str(error)
        assert secret not in repr(error)
        assert secret not in logged
    assert error.__cause__ is None


@pytest.mark.parametrize("status", [200, 201, 202, 204])
async def test_posts_json_with_the_bearer_token(gateway: Gateway, status: int) -> None:
    gateway.status = status
    sender = HttpCodeSender(gateway.url, TOKEN)
    try:
        await sender.send(DESTINATION, TEXT)
    finally:
        await sender.aclose()
    [request] = gateway.requests
    assert request["path"] == "/v1/messages"
    headers = {name.lower(): value for name, value in request["headers"].items()}
    assert headers["authorization"] == f"Bearer {TOKEN}"
    assert headers["content-type"] == "application/json"
    assert json.loads(request["body"]) == {"to": DESTINATION, "text": TEXT}


@pytest.mark.parametrize("status", [500, 503, 400, 401, 404, 302])
async def test_non_2xx_is_send_failed_with_the_status_only(gateway: Gateway, status: int) -> None:
    gateway.status = status
    sender = HttpCodeSender(gateway.url, TOKEN)
    with pytest.raises(SendFailed) as caught:
        await sender.send(DESTINATION, TEXT)
    await sender.aclose()
    assert str(status) in str(caught.value)
    assert_safe(caught.value)
    assert len(gateway.requests) == 1  # a redirect is not followed


async def test_connection_refused_is_send_failed() -> None:
    # A bound socket that never listens: connecting to it is refused, and nobody else can take the port.
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
        sender = HttpCodeSender(f"http://127.0.0.1:{port}/v1/messages", TOKEN)
        with pytest.raises(SendFailed, match="unreachable") as caught:
            await sender.send(DESTINATION, TEXT)
        await sender.aclose()
    assert_safe(caught.value)


async def test_timeout_is_send_failed(gateway: Gateway, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(senders, "SEND_TIMEOUT_SECONDS", 0.2)
    gateway.delay = 1.0
    sender = HttpCodeSender(gateway.url, TOKEN)
    with pytest.raises(SendFailed, match="Timeout") as caught:
        await sender.send(DESTINATION, TEXT)
    await sender.aclose()
    assert_safe(caught.value)


def test_the_timeout_is_ten_seconds() -> None:
    assert senders.SEND_TIMEOUT_SECONDS == 10.0


async def test_an_injected_client_is_used_and_left_open(gateway: Gateway) -> None:
    async with httpx.AsyncClient() as http:
        sender = HttpCodeSender(gateway.url, TOKEN, http=http)
        await sender.send(DESTINATION, TEXT)
        await sender.aclose()
        assert not http.is_closed
        await sender.send(DESTINATION, "again")
    assert [json.loads(r["body"])["text"] for r in gateway.requests] == [TEXT, "again"]


async def test_aclose_closes_its_own_client(gateway: Gateway) -> None:
    sender = HttpCodeSender(gateway.url, TOKEN)
    await sender.aclose()
    with pytest.raises(RuntimeError, match="closed"):  # a programming error, not a failed send
        await sender.send(DESTINATION, TEXT)
    assert gateway.requests == []


def test_configuration_is_checked() -> None:
    with pytest.raises(ValueError, match="http"):
        HttpCodeSender("ftp://gateway.example/send", TOKEN)
    with pytest.raises(ValueError, match="token"):
        HttpCodeSender("https://gateway.example/send", "")
