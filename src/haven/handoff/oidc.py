"""Identity verification with OpenID Connect: authorization code flow, PKCE (S256), nonce and state.

A bank customer arrives from X and proves who they are by signing in at the bank's identity provider.
Three single-use secrets, made by :meth:`OidcVerifier.begin` and kept server-side (encrypted) by the
caller until :meth:`OidcVerifier.finish`, tie the callback to this one sign-in attempt:

- ``state`` (RFC 6749 §10.12) travels through the browser and must come back unchanged: a callback
  that an attacker starts in the customer's browser (login CSRF, "sign in as me") carries no state we
  issued, so it is refused.
- ``code_verifier`` (PKCE, RFC 7636, S256) never leaves the server; only its hash goes to the provider.
  A stolen or injected authorization code is useless without it, and the provider refuses to redeem a
  code twice.
- ``nonce`` (OpenID Connect Core §3.1.2.1) is signed by the provider into the ID token: an ID token
  minted for another sign-in (replayed, or swapped in by a mixed-up provider) is refused.

The ID token's signature is checked against the provider's published keys (cached, fetched again
once for an unknown ``kid``) and its ``iss``, ``aud``/``azp``, ``exp``, ``iat`` and ``nonce`` claims
are validated. When the provider announces RFC 9207, the callback's ``iss`` must name our issuer too.

Built on authlib's RFC primitives (authorization request, PKCE challenge) and on joserfc, the JOSE
library authlib itself now uses. authlib's httpx client integration and its ``authlib.jose`` module are
not used: authlib 1.9 deprecates both (a warning on every import, removal announced for 2.0) and the
integration silently switches its base class to ``httpx2`` when that package is installed.

Nothing here logs tokens, codes, secrets or claim values; :class:`VerificationFailed` messages carry
none of them and are safe to show and log.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote_plus

import httpx
from authlib.oauth2.rfc6749.parameters import prepare_grant_uri
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import ClaimError, InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet
from joserfc.jwt import JWTClaimsRegistry

__all__ = ["OidcConfig", "OidcIdentity", "OidcStart", "OidcVerifier", "VerificationFailed"]

#: Network timeout for every call to the provider.
TIMEOUT = httpx.Timeout(10.0)
#: Clock skew tolerated on ``exp`` and ``iat``.
LEEWAY_SECONDS = 60
#: An ID token issued longer ago than this is refused, even if its ``exp`` is later.
MAX_ID_TOKEN_AGE_SECONDS = 600
#: Asymmetric signature algorithms only: never ``none``, never HMAC with the client secret.
SIGNATURE_ALGORITHMS = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
    "EdDSA",
    "Ed25519",
)
#: An OAuth error code as RFC 6749 §4.1.2.1 allows it, kept short: anything else is not echoed.
_ERROR_CODE = re.compile(r"[A-Za-z0-9_.\-]{1,64}")
_START_VERSION = 1


class VerificationFailed(Exception):
    """The callback or the token is not acceptable; the message is safe to show and log (no secrets)."""


@dataclass(frozen=True, slots=True)
class OidcConfig:
    issuer: str  # e.g. http://127.0.0.1:9400
    client_id: str
    client_secret: str = field(repr=False)
    scopes: str = "openid profile email"


@dataclass(frozen=True, slots=True)
class OidcStart:
    """What the caller must keep server-side (encrypted) between begin() and finish().

    Nothing of it appears in ``repr`` (the URL carries the state and the nonce).
    """

    authorization_url: str = field(repr=False)
    state: str = field(repr=False)
    nonce: str = field(repr=False)
    code_verifier: str = field(repr=False)

    def to_json(self) -> str:
        return json.dumps(
            {
                "v": _START_VERSION,
                "authorization_url": self.authorization_url,
                "state": self.state,
                "nonce": self.nonce,
                "code_verifier": self.code_verifier,
            },
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, raw: str) -> OidcStart:
        try:
            data = json.loads(raw)
        except (TypeError, ValueError):
            raise VerificationFailed("the stored sign-in attempt is unreadable") from None
        if not isinstance(data, dict) or data.get("v") != _START_VERSION:
            raise VerificationFailed("the stored sign-in attempt is unreadable")
        values = [data.get(name) for name in ("authorization_url", "state", "nonce", "code_verifier")]
        if not all(isinstance(value, str) and value for value in values):
            raise VerificationFailed("the stored sign-in attempt is incomplete")
        url, state, nonce, verifier = (str(value) for value in values)
        return cls(authorization_url=url, state=state, nonce=nonce, code_verifier=verifier)


@dataclass(frozen=True, slots=True)
class OidcIdentity:
    subject: str
    name: str | None
    email: str | None


class OidcVerifier:
    """One identity provider, one confidential client (``client_secret_basic``)."""

    def __init__(self, config: OidcConfig, *, http: httpx.AsyncClient | None = None) -> None:
        self._config = config
        self._http = http if http is not None else httpx.AsyncClient(timeout=TIMEOUT)
        self._owns_http = http is None
        self._metadata: dict[str, Any] | None = None
        self._keys: KeySet | None = None

    async def __aenter__(self) -> OidcVerifier:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if self._owns_http:
            await self._http.aclose()

    async def begin(self, redirect_uri: str) -> OidcStart:
        """Make the secrets of one sign-in attempt and the URL to send the customer's browser to."""
        metadata = await self._discover()
        state = secrets.token_urlsafe(32)
        nonce = secrets.token_urlsafe(32)
        code_verifier = secrets.token_urlsafe(64)  # 86 characters of [A-Za-z0-9_-]: RFC 7636 §4.1
        url = prepare_grant_uri(
            metadata["authorization_endpoint"],
            self._config.client_id,
            "code",
            redirect_uri=redirect_uri,
            scope=self._config.scopes,
            state=state,
            nonce=nonce,
            code_challenge=str(create_s256_code_challenge(code_verifier)),
            code_challenge_method="S256",
        )
        return OidcStart(authorization_url=str(url), state=state, nonce=nonce, code_verifier=code_verifier)

    async def finish(self, start: OidcStart, redirect_uri: str, params: Mapping[str, str]) -> OidcIdentity:
        """Check the callback's query parameters, redeem the code and validate the ID token."""
        error = params.get("error")
        if error is not None:
            shown = error if _ERROR_CODE.fullmatch(error) else "unrecognised error"
            raise VerificationFailed(f"the identity provider refused: {shown}")

        state = params.get("state")
        if not state or not hmac.compare_digest(state.encode(), start.state.encode()):
            raise VerificationFailed("the callback does not belong to this sign-in attempt (state mismatch)")

        metadata = await self._discover()
        issuer = params.get("iss")
        if issuer is None and metadata.get("authorization_response_iss_parameter_supported") is True:
            raise VerificationFailed("the callback does not name its issuer (iss missing)")
        if issuer is not None and issuer != self._config.issuer:
            raise VerificationFailed("the callback comes from another issuer (iss mismatch)")

        code = params.get("code")
        if not code:
            raise VerificationFailed("the callback carries no authorization code")

        tokens = await self._redeem(metadata, code, redirect_uri, start.code_verifier)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str) or not id_token:
            raise VerificationFailed("the identity provider returned no ID token")
        claims = await self._validate_id_token(metadata, id_token, start.nonce)

        subject: str = claims["sub"]
        name, email = _text(claims.get("name")), _text(claims.get("email"))
        access_token = tokens.get("access_token")
        userinfo_endpoint = metadata.get("userinfo_endpoint")
        if (
            (name is None or email is None)
            and isinstance(access_token, str)
            and isinstance(userinfo_endpoint, str)
        ):
            # OpenID Connect Core §5.4: in the code flow, profile claims usually come from userinfo.
            userinfo = await self._userinfo(userinfo_endpoint, access_token)
            if not isinstance(userinfo.get("sub"), str) or not hmac.compare_digest(
                userinfo["sub"].encode(), subject.encode()
            ):
                raise VerificationFailed("the userinfo response is about another subject")
            name = name if name is not None else _text(userinfo.get("name"))
            email = email if email is not None else _text(userinfo.get("email"))
        return OidcIdentity(subject=subject, name=name, email=email)

    # -- provider metadata and keys ------------------------------------------------------------

    async def _discover(self) -> dict[str, Any]:
        if self._metadata is not None:
            return self._metadata
        url = self._config.issuer.rstrip("/") + "/.well-known/openid-configuration"
        metadata = await self._get_json(url, what="discovery document")
        if metadata.get("issuer") != self._config.issuer:
            raise VerificationFailed("the identity provider's discovery document names another issuer")
        for name in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            value = metadata.get(name)
            if not isinstance(value, str) or not value.startswith(("https://", "http://")):
                raise VerificationFailed(f"the identity provider's discovery document lacks {name}")
        methods = metadata.get("code_challenge_methods_supported")
        if methods is not None and (not isinstance(methods, list) or "S256" not in methods):
            raise VerificationFailed("the identity provider does not support PKCE with S256")
        self._metadata = metadata
        return metadata

    async def _key_set(self, metadata: Mapping[str, Any], *, refresh: bool) -> KeySet:
        if self._keys is not None and not refresh:
            return self._keys
        document = await self._get_json(metadata["jwks_uri"], what="key set")
        try:
            keys = KeySet.import_key_set(document)  # type: ignore[arg-type]
        except (JoseError, KeyError, TypeError, ValueError) as exc:
            raise VerificationFailed("the identity provider's key set is unusable") from exc
        self._keys = keys
        return keys

    # -- token endpoint, ID token, userinfo ----------------------------------------------------

    async def _redeem(
        self, metadata: Mapping[str, Any], code: str, redirect_uri: str, code_verifier: str
    ) -> dict[str, Any]:
        # RFC 6749 §2.3.1: client id and secret are form-encoded before they are joined.
        credentials = f"{quote_plus(self._config.client_id)}:{quote_plus(self._config.client_secret)}"
        headers = {
            "Authorization": "Basic " + base64.b64encode(credentials.encode()).decode("ascii"),
            "Accept": "application/json",
        }
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": redirect_uri,
            "code_verifier": code_verifier,
        }
        try:
            response = await self._http.post(
                metadata["token_endpoint"], data=form, headers=headers, timeout=TIMEOUT
            )
        except httpx.HTTPError as exc:
            raise VerificationFailed("the identity provider's token endpoint could not be reached") from exc
        body = _json_object(response)
        if response.status_code != 200:
            error = body.get("error") if body is not None else None
            shown = error if isinstance(error, str) and _ERROR_CODE.fullmatch(error) else None
            detail = shown or f"HTTP {response.status_code}"
            raise VerificationFailed(f"the identity provider refused the authorization code: {detail}")
        if body is None:
            raise VerificationFailed("the identity provider's token response is not a JSON object")
        return body

    async def _validate_id_token(self, metadata: Mapping[str, Any], raw: str, nonce: str) -> dict[str, Any]:
        advertised = metadata.get("id_token_signing_alg_values_supported") or ["RS256"]
        algorithms = [alg for alg in SIGNATURE_ALGORITHMS if alg in advertised]
        if not algorithms:
            raise VerificationFailed("the identity provider signs ID tokens with no algorithm we accept")
        try:
            try:
                token = jwt.decode(raw, await self._key_set(metadata, refresh=False), algorithms=algorithms)
            except InvalidKeyIdError:
                # The provider may have rotated its keys since we cached them: fetch them once more.
                token = jwt.decode(raw, await self._key_set(metadata, refresh=True), algorithms=algorithms)
        except (JoseError, TypeError, ValueError) as exc:
            raise VerificationFailed("the ID token's signature is not valid") from exc

        claims = token.claims
        registry = JWTClaimsRegistry(
            leeway=LEEWAY_SECONDS,
            iss={"essential": True, "value": self._config.issuer},
            sub={"essential": True},
            aud={"essential": True, "value": self._config.client_id},
            exp={"essential": True},
            iat={"essential": True},
        )
        try:
            registry.validate(claims)
        except ClaimError as exc:
            raise VerificationFailed(f"the ID token is not acceptable ({exc.claim} claim)") from exc

        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self._config.client_id:
            raise VerificationFailed("the ID token is not acceptable (azp claim)")
        if claims["iat"] < time.time() - MAX_ID_TOKEN_AGE_SECONDS - LEEWAY_SECONDS:
            raise VerificationFailed("the ID token is not acceptable (iat claim: too old)")
        token_nonce = claims.get("nonce")
        if not isinstance(token_nonce, str) or not hmac.compare_digest(token_nonce.encode(), nonce.encode()):
            raise VerificationFailed("the ID token was issued for another sign-in attempt (nonce mismatch)")
        return claims

    async def _userinfo(self, url: str, access_token: str) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {access_token}", "Accept": "application/json"}
        return await self._get_json(url, what="userinfo response", headers=headers)

    async def _get_json(
        self, url: str, *, what: str, headers: Mapping[str, str] | None = None
    ) -> dict[str, Any]:
        try:
            response = await self._http.get(url, headers=headers, timeout=TIMEOUT)
        except httpx.HTTPError as exc:
            raise VerificationFailed(f"the identity provider's {what} could not be fetched") from exc
        if response.status_code != 200:
            raise VerificationFailed(
                f"the identity provider's {what} could not be fetched (HTTP {response.status_code})"
            )
        body = _json_object(response)
        if body is None:
            raise VerificationFailed(f"the identity provider's {what} is not a JSON object")
        return body


def _json_object(response: httpx.Response) -> dict[str, Any] | None:
    try:
        body = response.json()
    except ValueError:
        return None
    return body if isinstance(body, dict) else None


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
