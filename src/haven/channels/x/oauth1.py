"""OAuth 1.0a (HMAC-SHA1) request signing for httpx.

Built on authlib's RFC 5849 primitives. authlib's own httpx integration is not used because it
drops non-form request bodies (every v2 POST is JSON) and refuses plain-http hosts such as a local
simulator. JSON bodies are never signed; form bodies are (contract §1).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Generator
from urllib.parse import parse_qsl

import httpx
from authlib.oauth1.rfc5849.parameters import prepare_headers
from authlib.oauth1.rfc5849.signature import construct_base_string, hmac_sha1_signature

_FORM = "application/x-www-form-urlencoded"


class OAuth1Signer(httpx.Auth):
    requires_request_body = True

    def __init__(self, consumer_key: str, consumer_secret: str, token: str, token_secret: str) -> None:
        self._consumer_key = consumer_key
        self._consumer_secret = consumer_secret
        self._token = token
        self._token_secret = token_secret

    def signature_for(
        self,
        method: str,
        url: str,
        params: list[tuple[str, str]],
        *,
        nonce: str,
        timestamp: str,
    ) -> tuple[list[tuple[str, str]], str]:
        """Return the oauth_* parameters and the signature for one request."""
        oauth_params = [
            ("oauth_consumer_key", self._consumer_key),
            ("oauth_nonce", nonce),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", timestamp),
            ("oauth_token", self._token),
            ("oauth_version", "1.0"),
        ]
        base_string = construct_base_string(method, url, params + oauth_params)
        signature = hmac_sha1_signature(base_string, self._consumer_secret, self._token_secret)
        return oauth_params, signature

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        params = list(request.url.params.multi_items())
        if request.headers.get("content-type", "").startswith(_FORM):
            params += parse_qsl(request.content.decode(), keep_blank_values=True)
        url = str(request.url.copy_with(query=None, fragment=None))
        oauth_params, signature = self.signature_for(
            request.method,
            url,
            params,
            nonce=secrets.token_hex(16),
            timestamp=str(int(time.time())),
        )
        headers = prepare_headers([*oauth_params, ("oauth_signature", signature)], {})
        request.headers["Authorization"] = headers["Authorization"]
        yield request
