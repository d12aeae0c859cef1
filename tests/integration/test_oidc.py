"""OidcVerifier against a real OpenID provider (panva's oidc-provider, run with node; no mocks).

The customer's browser is played with plain httpx (tests/oidc_support.py); the redirect back to Haven
is never followed: its query parameters are what ``finish`` receives.
"""

from __future__ import annotations

import base64
import dataclasses
import json
from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from haven.handoff.oidc import OidcConfig, OidcStart, OidcVerifier, VerificationFailed
from tests.oidc_support import OidcProvider, cancel_sign_in, sign_in, start_oidc_provider

REDIRECT_URI = "http://127.0.0.1:9/handoff/oidc/callback"


@pytest.fixture(scope="module")
def provider() -> Iterator[OidcProvider]:
    with start_oidc_provider([REDIRECT_URI]) as running:
        yield running


def config_for(provider: OidcProvider, **overrides: str) -> OidcConfig:
    values = {
        "issuer": provider.issuer,
        "client_id": provider.client_id,
        "client_secret": provider.client_secret,
    }
    values.update(overrides)
    return OidcConfig(**values)


@pytest.fixture
async def verifier(provider: OidcProvider) -> AsyncIterator[OidcVerifier]:
    async with OidcVerifier(config_for(provider)) as v:
        yield v


async def test_a_customer_who_signs_in_is_identified(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    query = parse_qs(urlsplit(start.authorization_url).query)
    assert query["code_challenge_method"] == ["S256"]
    assert query["state"] == [start.state] and query["nonce"] == [start.nonce]
    assert start.code_verifier not in start.authorization_url
    assert len(start.state) >= 22 and len(start.nonce) >= 22  # >= 128 bits of randomness each
    assert OidcStart.from_json(start.to_json()) == start
    assert repr(start) == "OidcStart()"

    params = await sign_in(start.authorization_url, REDIRECT_URI, login="alice")
    identity = await verifier.finish(start, REDIRECT_URI, params)

    assert identity.subject == "alice"
    assert identity.name == "Customer alice"  # from userinfo: the provider keeps ID tokens minimal
    assert identity.email == "alice@example.test"


async def test_a_tampered_state_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    params = await sign_in(start.authorization_url, REDIRECT_URI, login="bob")

    with pytest.raises(VerificationFailed, match="state"):
        await verifier.finish(start, REDIRECT_URI, {**params, "state": params["state"] + "x"})
    with pytest.raises(VerificationFailed, match="state"):
        await verifier.finish(start, REDIRECT_URI, {k: v for k, v in params.items() if k != "state"})


async def test_a_replayed_code_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    params = await sign_in(start.authorization_url, REDIRECT_URI, login="carol")
    assert (await verifier.finish(start, REDIRECT_URI, params)).subject == "carol"

    with pytest.raises(VerificationFailed, match="refused the authorization code: invalid_grant"):
        await verifier.finish(start, REDIRECT_URI, params)


async def test_an_id_token_for_another_sign_in_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    other = await verifier.begin(REDIRECT_URI)
    params = await sign_in(start.authorization_url, REDIRECT_URI, login="dave")
    # State and PKCE verifier are right, only the nonce is another attempt's.
    mixed = dataclasses.replace(start, nonce=other.nonce)

    with pytest.raises(VerificationFailed, match="nonce"):
        await verifier.finish(mixed, REDIRECT_URI, params)


async def test_a_customer_who_cancels_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    params = await cancel_sign_in(start.authorization_url, REDIRECT_URI)
    assert params["error"] == "access_denied" and params["state"] == start.state

    with pytest.raises(VerificationFailed, match="the identity provider refused: access_denied"):
        await verifier.finish(start, REDIRECT_URI, params)


async def test_an_error_value_is_not_echoed_verbatim(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    with pytest.raises(VerificationFailed) as refused:
        await verifier.finish(start, REDIRECT_URI, {"error": "<script>x</script>", "state": start.state})
    assert "<script>" not in str(refused.value)


async def test_a_callback_without_code_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    params = await sign_in(start.authorization_url, REDIRECT_URI, login="erin")
    del params["code"]

    with pytest.raises(VerificationFailed, match="no authorization code"):
        await verifier.finish(start, REDIRECT_URI, params)


async def test_a_callback_naming_another_issuer_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    params = await sign_in(start.authorization_url, REDIRECT_URI, login="frank")

    with pytest.raises(VerificationFailed, match="iss mismatch"):
        await verifier.finish(start, REDIRECT_URI, {**params, "iss": "https://evil.example"})
    with pytest.raises(VerificationFailed, match="iss missing"):
        await verifier.finish(start, REDIRECT_URI, {k: v for k, v in params.items() if k != "iss"})


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "not json",
        "[]",
        "null",
        '{"v": 1}',
        '{"v": 2, "authorization_url": "u", "state": "s", "nonce": "n", "code_verifier": "c"}',
        '{"v": 1, "authorization_url": "u", "state": "", "nonce": "n", "code_verifier": "c"}',
        '{"v": 1, "authorization_url": "u", "state": 5, "nonce": "n", "code_verifier": "c"}',
    ],
)
def test_a_garbled_stored_attempt_is_refused(raw: str) -> None:
    with pytest.raises(VerificationFailed, match="stored sign-in attempt"):
        OidcStart.from_json(raw)


async def test_a_provider_with_another_issuer_is_refused(provider: OidcProvider) -> None:
    # Same discovery URL (a trailing slash is dropped before /.well-known), different issuer string.
    async with OidcVerifier(config_for(provider, issuer=provider.issuer + "/")) as verifier:
        with pytest.raises(VerificationFailed, match="names another issuer"):
            await verifier.begin(REDIRECT_URI)


async def test_a_wrong_client_secret_is_refused(provider: OidcProvider) -> None:
    async with OidcVerifier(config_for(provider, client_secret="wrong")) as verifier:
        start = await verifier.begin(REDIRECT_URI)
        params = await sign_in(start.authorization_url, REDIRECT_URI, login="grace")
        with pytest.raises(VerificationFailed, match="invalid_client"):
            await verifier.finish(start, REDIRECT_URI, params)


async def test_a_wrong_pkce_verifier_is_refused(verifier: OidcVerifier) -> None:
    start = await verifier.begin(REDIRECT_URI)
    params = await sign_in(start.authorization_url, REDIRECT_URI, login="heidi")
    stolen = dataclasses.replace(start, code_verifier="A" * 64)

    with pytest.raises(VerificationFailed, match="invalid_grant"):
        await verifier.finish(stolen, REDIRECT_URI, params)


class _ForgingTransport(httpx.AsyncHTTPTransport):
    """Passes everything to the real provider, but rewrites the ID token in the token response."""

    def __init__(self, forge: str) -> None:
        super().__init__()
        self.forge = forge
        self.jwks_fetches = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        response = await super().handle_async_request(request)
        if request.url.path == "/jwks":
            self.jwks_fetches += 1
        if request.url.path != "/token" or response.status_code != 200:
            return response
        body = json.loads(await response.aread())
        header, payload, signature = body["id_token"].split(".")
        if self.forge == "payload":
            claims = json.loads(_unb64(payload))
            claims["sub"] = "mallory"
            payload = _b64(json.dumps(claims).encode())
        else:
            fields = json.loads(_unb64(header))
            fields["kid"] = "unknown-key"
            header = _b64(json.dumps(fields).encode())
        body["id_token"] = f"{header}.{payload}.{signature}"
        return httpx.Response(200, json=body, request=request)


def _unb64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


@pytest.mark.parametrize("forge", ["payload", "kid"])
async def test_a_forged_id_token_is_refused(provider: OidcProvider, forge: str) -> None:
    transport = _ForgingTransport(forge)
    async with httpx.AsyncClient(transport=transport) as http:
        verifier = OidcVerifier(config_for(provider), http=http)
        start = await verifier.begin(REDIRECT_URI)
        params = await sign_in(start.authorization_url, REDIRECT_URI, login="ivan")
        with pytest.raises(VerificationFailed, match="signature"):
            await verifier.finish(start, REDIRECT_URI, params)
        await verifier.aclose()  # does not close a client it was given
        assert not http.is_closed
    # An unknown key id makes the verifier fetch the provider's keys once more, and only once.
    assert transport.jwks_fetches == (2 if forge == "kid" else 1)
