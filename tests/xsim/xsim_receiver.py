"""A webhook consumer on a real socket, for the Account Activity tests.

It answers X's CRC check and records every event POST with whether its
``x-twitter-webhooks-signature`` verifies. Both are computed here from the contract's
formulas with ``hmac``/``hashlib`` directly, independently of xsim's own functions.
Behaviour is switched per test (wrong CRC answers, failing statuses, delays).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any, Literal

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

CrcMode = Literal["ok", "wrong", "error", "text", "redirect", "huge", "missing"]


def expected_signature(secret: str, message: bytes) -> str:
    digest = hmac.new(secret.encode(), message, hashlib.sha256).digest()
    return "sha256=" + base64.b64encode(digest).decode()


@dataclass(frozen=True)
class Received:
    body: bytes
    signature: str
    verified: bool
    status: int
    content_type: str

    @property
    def payload(self) -> dict[str, Any]:
        loaded: dict[str, Any] = json.loads(self.body)
        return loaded


class Receiver:
    def __init__(self, secret: str) -> None:
        self.secret = secret
        self.reset()
        app = Starlette(
            routes=[
                Route("/hook", self._crc, methods=["GET"]),
                Route("/hook", self._event, methods=["POST"]),
                Route("/other", self._crc, methods=["GET"]),
                Route("/other", self._event, methods=["POST"]),
            ]
        )
        self._server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def reset(self) -> None:
        self.crc_mode: CrcMode = "ok"
        self.crc_delay = 0.0
        self.crc_tokens: list[str] = []
        #: Statuses for the next event POSTs, in order; 200 once used up.
        self.statuses: deque[int] = deque()
        self.post_delay = 0.0
        #: While set, event POSTs are held unanswered (``arrived`` counts them as they come in).
        self.paused = False
        self.arrived = 0
        self.received: list[Received] = []

    # -- server ------------------------------------------------------------------------------

    def start(self) -> None:
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.01)

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        port = self._server.servers[0].sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/hook"

    # -- what arrived ------------------------------------------------------------------------

    @property
    def accepted(self) -> list[dict[str, Any]]:
        """Payloads of the POSTs answered with 2xx, in arrival order."""
        return [r.payload for r in self.received if 200 <= r.status < 300]

    # -- handlers ----------------------------------------------------------------------------

    async def _crc(self, request: Request) -> Response:
        token = request.query_params.get("crc_token", "")
        self.crc_tokens.append(token)
        if self.crc_delay:
            await asyncio.sleep(self.crc_delay)
        answer = expected_signature(self.secret, token.encode())
        match self.crc_mode:
            case "ok":
                return JSONResponse({"response_token": answer})
            case "wrong":
                return JSONResponse({"response_token": expected_signature("not-the-secret", token.encode())})
            case "missing":
                return JSONResponse({"token": answer})
            case "error":
                return PlainTextResponse("boom", status_code=500)
            case "text":
                return PlainTextResponse(answer)
            case "redirect":
                return RedirectResponse(f"{self.base_url}/other?crc_token={token}", status_code=302)
            case "huge":
                return JSONResponse({"response_token": answer, "padding": "x" * 100_000})

    async def _event(self, request: Request) -> Response:
        body = await request.body()
        self.arrived += 1
        while self.paused:
            await asyncio.sleep(0.005)
        signature = request.headers.get("x-twitter-webhooks-signature", "")
        verified = hmac.compare_digest(signature, expected_signature(self.secret, body))
        status = self.statuses.popleft() if self.statuses else 200
        if self.post_delay:
            await asyncio.sleep(self.post_delay)
        self.received.append(
            Received(body, signature, verified, status, request.headers.get("content-type", ""))
        )
        return Response(status_code=status)
