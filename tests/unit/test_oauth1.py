"""The OAuth 1.0a signer against the contract's test vectors (docs.x.com, recomputed)."""

import httpx
import pytest

from haven.channels.x.oauth1 import OAuth1Signer

SIGNER = OAuth1Signer(
    "xvz1evFS4wEEPTGEFPHBog",
    "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
    "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
    "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
)
PARAMS = [("status", "Hello Ladies + Gentlemen, a signed OAuth request!"), ("include_entities", "true")]


@pytest.mark.parametrize(
    ("host", "expected"),
    [("api.x.com", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="), ("api.twitter.com", "hCtSmYh+iHYCEqBWrE7C7hYmtUk=")],
)
def test_contract_vectors(host: str, expected: str) -> None:
    _, signature = SIGNER.signature_for(
        "POST",
        f"https://{host}/1.1/statuses/update.json",
        PARAMS,
        nonce="kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg",
        timestamp="1318622958",
    )
    assert signature == expected


def test_json_body_is_kept_and_not_signed() -> None:
    request = httpx.Request("POST", "http://127.0.0.1:8100/2/tweets", json={"text": "hi"})
    signed = next(SIGNER.auth_flow(request))
    assert signed.content == b'{"text":"hi"}'
    header = signed.headers["authorization"]
    assert header.startswith("OAuth ")
    for part in ("oauth_consumer_key", "oauth_nonce", "oauth_signature", "oauth_timestamp", "oauth_token"):
        assert part in header
    assert "oauth_body_hash" not in header


def test_query_parameters_are_signed() -> None:
    a = next(SIGNER.auth_flow(httpx.Request("GET", "http://h/2/users/me?x=1"))).headers["authorization"]
    b = next(SIGNER.auth_flow(httpx.Request("GET", "http://h/2/users/me?x=2"))).headers["authorization"]
    assert a != b
