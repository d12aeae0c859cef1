"""ASGI middleware: request-body cap and the headers every response carries."""

from __future__ import annotations

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from xsim.errors import PROBLEM_JSON, generic
from xsim.ratelimit import Quota

MAX_BODY_BYTES = 64 * 1024

#: No inline script or style, nothing from other origins, no framing.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
    "referrer-policy": "no-referrer",
}

_QUOTA_KEY = "xsim_quota"


def remember_quota(request: Request, quota: Quota) -> None:
    """Have the response to ``request`` carry ``quota`` as ``x-rate-limit-*`` headers."""
    request.scope.setdefault("state", {})[_QUOTA_KEY] = quota


def remembered_quota(scope: Scope) -> Quota | None:
    """The quota :func:`remember_quota` recorded for this request, if any."""
    quota = scope.get("state", {}).get(_QUOTA_KEY)
    return quota if isinstance(quota, Quota) else None


async def _send_problem(scope: Scope, receive: Receive, send: Send, status: int, detail: str) -> None:
    error = generic(status, detail)
    response = JSONResponse(error.body, status_code=status, media_type=PROBLEM_JSON)
    await response(scope, receive, send)


class BodySizeLimit:
    """Refuse request bodies over ``max_bytes`` with 413, declared or streamed.

    The body is buffered (it is small by definition) and replayed to the app.
    """

    def __init__(self, app: ASGIApp, max_bytes: int = MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        too_large = f"Request body exceeds {self.max_bytes} bytes"
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None:
            if not declared.isdigit():
                await _send_problem(scope, receive, send, 400, "Invalid Content-Length")
                return
            if int(declared) > self.max_bytes:
                await _send_problem(scope, receive, send, 413, too_large)
                return

        body = bytearray()
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            body += message.get("body", b"")
            if len(body) > self.max_bytes:
                await _send_problem(scope, receive, send, 413, too_large)
                return
            if not message.get("more_body", False):
                break

        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": bytes(body), "more_body": False}

        await self.app(scope, replay, send)


class ResponseHeaders:
    """Add security headers to every response, and rate-limit headers where counted."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = MutableHeaders(scope=message)
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                quota = scope.get("state", {}).get(_QUOTA_KEY)
                if isinstance(quota, Quota):
                    headers.update(quota.headers())
            await send(message)

        await self.app(scope, receive, send_with_headers)
