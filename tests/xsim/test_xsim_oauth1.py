"""OAuth 1.0a: the signature function against the contract's vector, and verification."""

from __future__ import annotations

import time

import httpx
import pytest

from xsim.auth import NonceCache
from xsim.oauth1 import (
    base_string_uri,
    hmac_sha1_signature,
    parse_authorization_header,
    percent_encode,
    signature_base_string,
)

# Contract §1 test vector.
VECTOR_PARAMS = [
    ("status", "Hello Ladies + Gentlemen, a signed OAuth request!"),
    ("include_entities", "true"),
    ("oauth_consumer_key", "xvz1evFS4wEEPTGEFPHBog"),
    ("oauth_nonce", "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg"),
    ("oauth_signature_method", "HMAC-SHA1"),
    ("oauth_timestamp", "1318622958"),
    ("oauth_token", "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb"),
    ("oauth_version", "1.0"),
]
CONSUMER_SECRET = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"
TOKEN_SECRET = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"


@pytest.mark.parametrize(
    ("host", "signature"),
    [("api.x.com", "Ls93hJiZbQ3akF3HF3x1Bz8/zU4="), ("api.twitter.com", "hCtSmYh+iHYCEqBWrE7C7hYmtUk=")],
)
def test_contract_vector(host: str, signature: str) -> None:
    base = signature_base_string("post", f"https://{host}/1.1/statuses/update.json", VECTOR_PARAMS)
    assert base.startswith(f"POST&https%3A%2F%2F{host}%2F1.1%2Fstatuses%2Fupdate.json&")
    assert "status%3DHello%2520Ladies%2520%252B%2520Gentlemen" in base
    assert hmac_sha1_signature(base, CONSUMER_SECRET, TOKEN_SECRET) == signature


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("HTTPS://API.X.com:443/2/tweets", "https://api.x.com/2/tweets"),
        ("http://127.0.0.1:80/2/tweets", "http://127.0.0.1/2/tweets"),
        ("http://127.0.0.1:8100/2/tweets", "http://127.0.0.1:8100/2/tweets"),
        ("https://api.x.com:80/x", "https://api.x.com:80/x"),
        ("http://[::1]:8100/a%2Fb", "http://[::1]:8100/a%2Fb"),
        ("http://host", "http://host/"),
    ],
)
def test_base_string_uri_normalisation(url: str, expected: str) -> None:
    assert base_string_uri(url) == expected


def test_base_string_uri_rejects_missing_host() -> None:
    with pytest.raises(ValueError):
        base_string_uri("/2/tweets")


def test_percent_encoding_is_rfc3986() -> None:
    assert percent_encode("a b+c/~-._*!") == "a%20b%2Bc%2F~-._%2A%21"
    assert percent_encode("é☃") == "%C3%A9%E2%98%83"


def test_parameters_sort_by_encoded_key_then_value() -> None:
    base = signature_base_string("GET", "http://h/p", [("b", "2"), ("a", "z"), ("a", "y")])
    assert base == "GET&http%3A%2F%2Fh%2Fp&a%3Dy%26a%3Dz%26b%3D2"


def test_parse_authorization_header() -> None:
    header = 'OAuth realm="x", oauth_consumer_key="key%20one",oauth_nonce="n"'
    assert parse_authorization_header(header) == {
        "realm": "x",
        "oauth_consumer_key": "key one",
        "oauth_nonce": "n",
    }
    assert parse_authorization_header("Bearer abc") is None
    assert parse_authorization_header('OAuth a="1", a="2"') is None
    assert parse_authorization_header('OAuth a="1" junk') is None
    assert parse_authorization_header('OAuth a="%FF"') is None


def test_nonce_cache_forgets_after_ttl() -> None:
    cache = NonceCache(ttl_seconds=10)
    key = ("k", "t", "n")
    assert cache.check_and_remember(key, now=100)
    assert not cache.check_and_remember(key, now=105)
    assert cache.check_and_remember(key, now=111)


async def test_signed_request_as_brand(client: httpx.AsyncClient, brand) -> None:
    response = await client.get("/2/users/me", auth=brand())
    assert response.status_code == 200
    assert response.json() == {
        "data": {"id": "1500000000000000001", "name": "Example Bank", "username": "ExampleBankHelp"}
    }


async def test_query_parameters_are_signed(client: httpx.AsyncClient, brand) -> None:
    params = {"user.fields": "created_at,verified", "expansions": "pinned_tweet_id"}
    response = await client.get("/2/users/me", params=params, auth=brand())
    assert response.status_code == 200
    assert response.json()["data"]["verified"] is False


async def test_form_body_parameters_are_signed(client: httpx.AsyncClient, brand) -> None:
    """A form body is covered by the signature: the same header over another body fails."""
    signed = next(brand().auth_flow(client.build_request("DELETE", "/2/tweets/123", data={"status": "hi"})))
    tampered = await client.request(
        "DELETE",
        "/2/tweets/123",
        data={"status": "tampered"},
        headers={"Authorization": signed.headers["Authorization"]},
    )
    assert tampered.status_code == 401
    genuine = await client.send(signed)
    assert genuine.status_code == 200  # authenticated; the tweet simply does not exist
    assert genuine.json()["errors"][0]["title"] == "Not Found Error"


async def test_host_is_part_of_the_signature(app, brand) -> None:
    transport = httpx.ASGITransport(app=app)
    for host in ("https://api.x.com", "https://api.twitter.com"):
        async with httpx.AsyncClient(transport=transport, base_url=host) as client:
            assert (await client.get("/2/users/me", auth=brand())).status_code == 200
            other = "https://api.example.com/2/users/me"
            response = await client.get("/2/users/me", auth=brand(sign_url=other))
            assert response.status_code == 401


@pytest.mark.parametrize(
    "options",
    [
        {"client_secret": "wrong"},
        {"resource_owner_secret": "wrong"},
        {"resource_owner_key": "someone-else"},
        {"timestamp": "-301"},
        {"timestamp": "+301"},
        {"timestamp": "soon"},
        {"signature_method": "PLAINTEXT"},
    ],
    ids=lambda options: "=".join(next(iter(options.items()))),
)
async def test_bad_credentials_are_refused(client: httpx.AsyncClient, brand, options) -> None:
    if options.get("timestamp", "").startswith(("-", "+")):
        options = {"timestamp": str(int(time.time()) + int(options["timestamp"]))}
    response = await client.get("/2/users/me", auth=brand(**options))
    assert response.status_code == 401
    assert response.json() == {
        "title": "Unauthorized",
        "type": "about:blank",
        "status": 401,
        "detail": "Unauthorized",
    }


async def test_timestamp_within_five_minutes_is_accepted(client: httpx.AsyncClient, brand) -> None:
    for offset in (-290, 290):
        auth = brand(timestamp=str(int(time.time()) + offset))
        assert (await client.get("/2/users/me", auth=auth)).status_code == 200


async def test_replayed_nonce_is_refused(client: httpx.AsyncClient, brand) -> None:
    auth = brand(nonce="fixed-nonce-for-replay", timestamp=str(int(time.time())))
    assert (await client.get("/2/users/me", auth=auth)).status_code == 200
    assert (await client.get("/2/users/me", auth=auth)).status_code == 401


async def test_missing_oauth_parameter_is_refused(client: httpx.AsyncClient) -> None:
    header = 'OAuth oauth_consumer_key="xsim-demo-consumer-key", oauth_nonce="n"'
    response = await client.get("/2/users/me", headers={"Authorization": header})
    assert response.status_code == 401
