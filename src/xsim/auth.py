"""Who is calling: the app (bearer token) or a user (OAuth 1.0a brand, or a user token).

OAuth 1.0a requests are verified for real: the signature is recomputed over the URL
the client actually called (scheme, ``Host`` header and raw path), the query and any
form body; timestamps more than five minutes off and replayed nonces are refused.
"""

from __future__ import annotations

import hmac
from collections import OrderedDict
from dataclasses import dataclass
from enum import StrEnum
from urllib.parse import parse_qsl

from starlette.requests import Request

from xsim.config import SimConfig
from xsim.errors import unauthorized
from xsim.oauth1 import hmac_sha1_signature, parse_authorization_header, signature_base_string
from xsim.store import Store, User

#: Largest accepted difference between ``oauth_timestamp`` and the server clock.
MAX_CLOCK_SKEW_SECONDS = 300
_REQUIRED_OAUTH_PARAMS = (
    "oauth_consumer_key",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_token",
)
_FORM_CONTENT_TYPE = "application/x-www-form-urlencoded"


class AuthKind(StrEnum):
    APP = "app"
    USER = "user"


@dataclass(frozen=True, slots=True)
class Principal:
    kind: AuthKind
    #: The acting user under user auth; None under app auth.
    user: User | None = None

    @property
    def rate_limit_key(self) -> str:
        return self.user.id if self.user else "app"


class NonceCache:
    """Remembers recent OAuth nonces so that a captured request cannot be replayed.

    A nonce only needs remembering while its timestamp is still acceptable, i.e.
    for twice the allowed clock skew.
    """

    def __init__(self, ttl_seconds: float = 2 * MAX_CLOCK_SKEW_SECONDS) -> None:
        self._ttl = ttl_seconds
        self._seen: OrderedDict[tuple[str, str, str], float] = OrderedDict()

    def check_and_remember(self, key: tuple[str, str, str], now: float) -> bool:
        """Record ``key``; False if it was already seen within the TTL."""
        while self._seen:
            oldest_key, seen_at = next(iter(self._seen.items()))
            if now - seen_at < self._ttl:
                break
            del self._seen[oldest_key]
        if key in self._seen:
            return False
        self._seen[key] = now
        return True


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode(), expected.encode())


async def authenticate(
    request: Request, *, config: SimConfig, store: Store, nonces: NonceCache, now: float
) -> Principal:
    """Identify the caller or raise the 401 ``ApiError``."""
    header = request.headers.get("authorization", "")
    scheme, _, credentials = header.partition(" ")
    if scheme.lower() == "bearer":
        token = credentials.strip()
        if token and _same(token, config.app_bearer_token):
            return Principal(AuthKind.APP)
        user = store.user_by_token(token)
        if user is not None:
            return Principal(AuthKind.USER, user)
    elif scheme.lower() == "oauth":
        params = parse_authorization_header(header)
        if params is not None and await _valid_oauth1(request, params, config, nonces, now):
            return Principal(AuthKind.USER, store.brand)
    raise unauthorized()


async def _valid_oauth1(
    request: Request, params: dict[str, str], config: SimConfig, nonces: NonceCache, now: float
) -> bool:
    if any(name not in params for name in _REQUIRED_OAUTH_PARAMS):
        return False
    if params["oauth_signature_method"] != "HMAC-SHA1" or params.get("oauth_version", "1.0") != "1.0":
        return False
    if not (
        _same(params["oauth_consumer_key"], config.consumer_key)
        and _same(params["oauth_token"], config.brand_access_token)
    ):
        return False
    try:
        timestamp = int(params["oauth_timestamp"])
    except ValueError:
        return False
    if abs(now - timestamp) > MAX_CLOCK_SKEW_SECONDS:
        return False

    signed = [(k, v) for k, v in params.items() if k not in ("oauth_signature", "realm")]
    signed += parse_qsl(request.url.query, keep_blank_values=True)
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type == _FORM_CONTENT_TYPE:
        signed += parse_qsl((await request.body()).decode(errors="replace"), keep_blank_values=True)
    try:
        base_string = signature_base_string(request.method, _called_url(request), signed)
    except ValueError:
        return False
    expected = hmac_sha1_signature(base_string, config.consumer_secret, config.brand_access_token_secret)
    if not _same(params["oauth_signature"], expected):
        return False
    nonce_key = (params["oauth_consumer_key"], params["oauth_token"], params["oauth_nonce"])
    return nonces.check_and_remember(nonce_key, now)


def _called_url(request: Request) -> str:
    """The URL as the client addressed it: ``Host`` header and the raw, undecoded path."""
    raw_path: bytes = request.scope.get("raw_path") or request.url.path.encode()
    return f"{request.url.scheme}://{request.url.netloc}{raw_path.decode('latin-1')}"
