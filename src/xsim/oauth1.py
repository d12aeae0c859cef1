"""OAuth 1.0a HMAC-SHA1 signatures (RFC 5849 §3.4), as X computes them.

Kept to the few pure functions a verifier needs; ``auth`` decides what to sign.
"""

from __future__ import annotations

import base64
import hmac
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote, urlsplit

_DEFAULT_PORTS = {"http": 80, "https": 443}
_HEADER_PARAM = re.compile(r'\s*([^\s=,]+)\s*=\s*"([^"]*)"\s*(?:,|$)')


def percent_encode(value: str) -> str:
    """RFC 3986 encoding of UTF-8 bytes; only ``A-Za-z0-9-._~`` stay as they are."""
    return quote(value, safe="-._~")


def base_string_uri(url: str) -> str:
    """``scheme://host[:port]/path``: lower-case scheme and host, default port dropped.

    Raises ``ValueError`` for a URL without a host or with an invalid port.
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    host = parts.hostname
    if not host:
        raise ValueError(f"no host in {url!r}")
    if ":" in host:
        host = f"[{host}]"
    port = parts.port
    authority = host if port is None or port == _DEFAULT_PORTS.get(scheme) else f"{host}:{port}"
    return f"{scheme}://{authority}{parts.path or '/'}"


def normalized_parameters(params: Iterable[tuple[str, str]]) -> str:
    """Encode every pair, sort by encoded key then value, join as ``k=v&…``."""
    encoded = sorted((percent_encode(key), percent_encode(value)) for key, value in params)
    return "&".join(f"{key}={value}" for key, value in encoded)


def signature_base_string(method: str, url: str, params: Iterable[tuple[str, str]]) -> str:
    """``METHOD&enc(base string URI)&enc(normalized parameters)``.

    ``params`` are the decoded query, form-body and ``oauth_*`` parameters, without
    ``oauth_signature`` and ``realm``.
    """
    return "&".join(
        (
            method.upper(),
            percent_encode(base_string_uri(url)),
            percent_encode(normalized_parameters(params)),
        )
    )


def hmac_sha1_signature(base_string: str, consumer_secret: str, token_secret: str) -> str:
    key = f"{percent_encode(consumer_secret)}&{percent_encode(token_secret)}"
    digest = hmac.new(key.encode(), base_string.encode(), "sha1").digest()
    return base64.b64encode(digest).decode("ascii")


def parse_authorization_header(value: str) -> dict[str, str] | None:
    """Parameters of an ``Authorization: OAuth k="v", …`` header, percent-decoded.

    Returns None when the header is not an OAuth header or is malformed, including
    when a parameter is repeated.
    """
    scheme, _, rest = value.strip().partition(" ")
    if scheme.lower() != "oauth":
        return None
    params: dict[str, str] = {}
    position = 0
    rest = rest.strip()
    while position < len(rest):
        match = _HEADER_PARAM.match(rest, position)
        if match is None:
            return None
        key, raw = match.group(1), match.group(2)
        if key in params:
            return None
        try:
            params[key] = unquote(raw, errors="strict")
        except UnicodeDecodeError:
            return None
        position = match.end()
    return params
