"""Security headers on every response: a strict CSP, no framing, no sniffing, no referrer leaks.

The referrer policy is ``same-origin`` rather than ``no-referrer``: with ``no-referrer`` browsers send
``Origin: null`` on form posts, which would defeat the same-origin check that guards every form.

``form_targets`` are URLs (their origins count) a form post may be redirected to: browsers apply
``form-action`` to the redirects after a post too, and "Sign in with the bank" posts to Haven, which
answers with a redirect to the bank's OpenID provider.
"""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Message, Receive, Scope, Send

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)


def content_security_policy(form_targets: Sequence[str] = ()) -> str:
    if not form_targets:
        return CONTENT_SECURITY_POLICY
    targets = " ".join(f"{urlsplit(url).scheme}://{urlsplit(url).netloc}" for url in form_targets)
    return CONTENT_SECURITY_POLICY.replace("form-action 'self'", f"form-action 'self' {targets}")


class SecurityHeadersMiddleware:
    def __init__(self, app: ASGIApp, *, hsts: bool, form_targets: Sequence[str] = ()) -> None:
        self.app = app
        self.headers = [
            (b"content-security-policy", content_security_policy(form_targets).encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"same-origin"),
            (b"cross-origin-opener-policy", b"same-origin"),
            (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
        ]
        if hsts:
            self.headers.append((b"strict-transport-security", b"max-age=63072000; includeSubDomains"))

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message.setdefault("headers", [])
                message["headers"].extend(self.headers)
            await send(message)

        await self.app(scope, receive, send_with_headers)
