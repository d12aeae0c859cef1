"""CSRF protection for cookie-authenticated requests.

Two checks, as Django does: a token in a cookie that the form (or the ``X-CSRF-Token`` header of a
script) must repeat, compared in constant time; and, for every unsafe request, an ``Origin`` (or
``Referer``) that is this site. Bearer-token API calls carry no cookies and need neither.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from starlette.requests import Request

from haven.kit.errors import Forbidden
from haven.security.secrets import constant_time_equal, new_token

CSRF_COOKIE = "haven_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"


def csrf_token_for(request: Request) -> str:
    """The browser's token, or a new one (the caller sets it as the cookie)."""
    token = request.cookies.get(CSRF_COOKIE)
    if token and 20 <= len(token) <= 128:
        return token
    return new_token(nbytes=24)


def _same_origin(request: Request, allowed_origins: frozenset[str]) -> bool:
    origin = request.headers.get("origin")
    if origin is None:
        referer = request.headers.get("referer")
        if referer is None:
            return False
        parts = urlsplit(referer)
        origin = f"{parts.scheme}://{parts.netloc}"
    own = f"{request.url.scheme}://{request.headers.get('host', request.url.netloc)}"
    return origin == own or origin in allowed_origins


async def check_csrf(request: Request, allowed_origins: frozenset[str]) -> None:
    if not _same_origin(request, allowed_origins):
        raise Forbidden("cross-site request refused")
    expected = request.cookies.get(CSRF_COOKIE)
    supplied = request.headers.get(CSRF_HEADER)
    if supplied is None:
        form = await request.form()
        value = form.get(CSRF_FIELD)
        supplied = value if isinstance(value, str) else None
    if not expected or not supplied or not constant_time_equal(expected, supplied):
        raise Forbidden("the form has expired; reload the page and try again")
