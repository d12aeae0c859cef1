"""Webhooks, Account Activity subscriptions and signed deliveries (contract §7).

xsim runs in process; the webhook consumer (``xsim_receiver.Receiver``) is a real server on
a real socket, so the CRC checks and deliveries cross the network as they would from X. The
receiver verifies every signature itself, from the contract's formula.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from xsim_receiver import Receiver
from xsim_support import APP_BEARER, BRAND_ID, CONFIG, OAuth1, Sim, SimUser

from xsim.app import create_app
from xsim.config import SimConfig
from xsim.faults import FaultConfig
from xsim.v1_render import v1_time
from xsim.webhooks import WebhookError, crc_response_token, validate_url, webhook_signature

pytestmark = pytest.mark.e2e

#: Short timeouts and backoffs keep the failure paths fast.
FAST = SimConfig(webhook_timeout_seconds=0.5, webhook_retries=2, webhook_retry_backoff_seconds=0.01)


@pytest.fixture(scope="module")
def receiver_server() -> Iterator[Receiver]:
    receiver = Receiver(CONFIG.consumer_secret)
    receiver.start()
    yield receiver
    receiver.stop()


@pytest.fixture
def receiver(receiver_server: Receiver) -> Receiver:
    receiver_server.reset()
    return receiver_server


@pytest.fixture
def app() -> Any:
    return create_app(FAST)


@pytest.fixture(autouse=True)
async def _stop_deliveries(app: Any) -> AsyncIterator[None]:
    yield
    await app.state.sim.webhooks.aclose()


async def register(client: httpx.AsyncClient, url: str) -> str:
    response = await client.post("/2/webhooks", json={"url": url}, headers=APP_BEARER)
    assert response.status_code == 200, response.text
    webhook_id: str = response.json()["data"]["id"]
    return webhook_id


async def subscribe(client: httpx.AsyncClient, webhook_id: str, auth: httpx.Auth | dict[str, str]) -> None:
    path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all"
    if isinstance(auth, httpx.Auth):
        response = await client.post(path, auth=auth)
    else:
        response = await client.post(path, headers=auth)
    assert response.status_code == 200, response.text
    assert response.json() == {"data": {"subscribed": True}}


async def settled(client: httpx.AsyncClient, timeout: float = 5.0) -> dict[str, Any]:
    """``/_sim/webhooks`` once nothing is pending any more."""
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, Any] = (await client.get("/_sim/webhooks")).json()
        if state["deliveries"]["pending"] == 0:
            return state
        assert time.monotonic() < deadline, state
        await asyncio.sleep(0.01)


async def until(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.005)


async def burst(app: Any, username: str, texts: list[str]) -> list[str]:
    """Tweets created straight through the store, which never yields to the event loop here, so
    every delivery is queued before the delivery task takes the first: fault decisions then do not
    depend on how fast the machine is."""
    store = app.state.sim.store
    author = store.user_by_username(username)
    return [(await store.create_tweet(author=author, text=text)).id for text in texts]


def reason(response: httpx.Response) -> str:
    body = response.json()
    assert response.status_code == 400, body
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    message: str = body["errors"][0]["message"]
    return message.split(":", 1)[0]


@pytest.fixture
async def hooked(client: httpx.AsyncClient, receiver: Receiver) -> str:
    """A registered webhook with the brand subscribed to it."""
    webhook_id = await register(client, receiver.url)
    await subscribe(client, webhook_id, OAuth1())
    return webhook_id


# -- signing and CRC functions (contract §7 test vectors) ----------------------------------


def test_crc_test_vector() -> None:
    assert (
        crc_response_token("test", "challenge_string")
        == "sha256=SYYKwb5URQ4OnNXL3KWDH9ph6EIaP+4PTQFxLk5FIK4="
    )


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        (b"test=1&other_test=2", "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="),
        (b'{"test_number":1,"test_string":"two"}', "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI="),
    ],
)
def test_signature_test_vectors(body: bytes, signature: str) -> None:
    assert webhook_signature("test", body) == signature


def test_v1_time_format() -> None:
    assert v1_time(datetime(2025, 5, 19, 14, 1, 46, tzinfo=UTC)) == "Mon May 19 14:01:46 +0000 2025"
    assert v1_time(datetime(2024, 2, 4, 3, 5, 9, tzinfo=UTC)) == "Sun Feb 04 03:05:09 +0000 2024"


@pytest.mark.parametrize(
    ("url", "insecure_ok", "strict_ok"),
    [
        ("https://example.com/webhooks/x", True, True),
        ("https://example.com/x?a=b", True, True),
        ("http://example.com/x", True, False),
        ("https://example.com:8443/x", True, False),
        ("https://example.com:443/x", True, False),
        ("http://127.0.0.1:8100/hook", True, False),
        ("https://example.com/" + "a" * 181, False, False),  # 201 characters
        ("ftp://example.com/x", False, False),
        ("https:///x", False, False),
        ("/relative/path", False, False),
        ("https://user:pw@example.com/x", False, False),
        ("https://example.com/a b", False, False),
        ("https://example.com:99999/x", False, False),
        ("https://exa\nmple.com/x", False, False),
    ],
)
def test_url_rules(url: str, insecure_ok: bool, strict_ok: bool) -> None:
    for allow_insecure, ok in ((True, insecure_ok), (False, strict_ok)):
        if ok:
            validate_url(url, allow_insecure=allow_insecure)
        else:
            with pytest.raises(WebhookError) as refused:
                validate_url(url, allow_insecure=allow_insecure)
            assert refused.value.reason == "UrlValidationFailed"


def test_two_hundred_characters_are_allowed() -> None:
    url = "https://example.com/" + "a" * 180
    assert len(url) == 200
    validate_url(url, allow_insecure=False)


# -- /2/webhooks ---------------------------------------------------------------------------


async def test_register_runs_the_crc(client: httpx.AsyncClient, receiver: Receiver) -> None:
    response = await client.post("/2/webhooks", json={"url": receiver.url}, headers=APP_BEARER)
    assert response.status_code == 200
    data = response.json()["data"]
    assert set(data) == {"id", "url", "valid", "created_at"}
    assert (data["url"], data["valid"]) == (receiver.url, True)
    assert data["id"].isdigit() and len(data["id"]) == 19
    datetime.strptime(data["created_at"], "%Y-%m-%dT%H:%M:%S.%fZ")
    assert len(receiver.crc_tokens) == 1 and len(receiver.crc_tokens[0]) >= 24
    assert response.headers["x-rate-limit-limit"] == "450"

    listed = await client.get("/2/webhooks", headers=APP_BEARER)
    assert listed.json() == {"data": [data], "meta": {"result_count": 1}}
    fields = await client.get(
        "/2/webhooks", params={"webhook_config.fields": "created_at,id,url,valid"}, headers=APP_BEARER
    )
    assert fields.json()["data"] == [data]


async def test_crc_tokens_are_fresh(client: httpx.AsyncClient, receiver: Receiver) -> None:
    webhook_id = await register(client, receiver.url)
    for _ in range(2):
        assert (await client.put(f"/2/webhooks/{webhook_id}", headers=APP_BEARER)).status_code == 200
    assert len(set(receiver.crc_tokens)) == 3


async def test_url_may_come_in_the_query(client: httpx.AsyncClient, receiver: Receiver) -> None:
    response = await client.post("/2/webhooks", params={"url": receiver.url}, headers=APP_BEARER)
    assert response.status_code == 200
    assert response.json()["data"]["url"] == receiver.url


async def test_empty_list(client: httpx.AsyncClient) -> None:
    response = await client.get("/2/webhooks", headers=APP_BEARER)
    assert response.json() == {"data": [], "meta": {"result_count": 0}}
    bad = await client.get("/2/webhooks", params={"webhook_config.fields": "id,secret"}, headers=APP_BEARER)
    assert bad.status_code == 400
    unknown = await client.get("/2/webhooks", params={"nope": "1"}, headers=APP_BEARER)
    assert unknown.status_code == 400


@pytest.mark.parametrize("mode", ["wrong", "error", "text", "redirect", "huge", "missing"])
async def test_crc_failures(client: httpx.AsyncClient, receiver: Receiver, mode: Any) -> None:
    receiver.crc_mode = mode
    response = await client.post("/2/webhooks", json={"url": receiver.url}, headers=APP_BEARER)
    assert reason(response) == "CrcValidationFailed"
    assert receiver.crc_tokens  # the check did reach the receiver
    assert (await client.get("/2/webhooks", headers=APP_BEARER)).json()["meta"]["result_count"] == 0


async def test_crc_timeout(client: httpx.AsyncClient, receiver: Receiver) -> None:
    receiver.crc_delay = 3.0  # the app allows 0.5 s
    started = time.monotonic()
    response = await client.post("/2/webhooks", json={"url": receiver.url}, headers=APP_BEARER)
    assert reason(response) == "CrcValidationFailed"
    assert "within 0.5 seconds" in response.json()["errors"][0]["message"]
    assert time.monotonic() - started < 2.5


async def test_crc_against_a_closed_port(client: httpx.AsyncClient, receiver: Receiver) -> None:
    closed = Receiver(CONFIG.consumer_secret)
    closed.start()
    url = closed.url
    closed.stop()
    response = await client.post("/2/webhooks", json={"url": url}, headers=APP_BEARER)
    assert reason(response) == "CrcValidationFailed"


async def test_url_validation_and_limits(client: httpx.AsyncClient, sim: Sim, receiver: Receiver) -> None:
    async def status_of(url: str) -> str:
        return reason(await client.post("/2/webhooks", json={"url": url}, headers=APP_BEARER))

    assert await status_of("ftp://example.com/hook") == "UrlValidationFailed"
    assert await status_of("https://example.com/" + "a" * 200) == "UrlValidationFailed"
    await sim.configure(webhook_allow_insecure=False)
    assert await status_of(receiver.url) == "UrlValidationFailed"  # http with a port
    await sim.configure(webhook_allow_insecure=True)
    assert receiver.crc_tokens == []  # refused before any CRC

    await register(client, receiver.url)
    assert await status_of(receiver.url) == "DuplicateUrlFailed"
    assert await status_of(f"{receiver.base_url}/other") == "WebhookLimitExceeded"
    await sim.configure(webhook_limit=2)
    await register(client, f"{receiver.base_url}/other")
    assert await status_of(f"{receiver.url}?third=1") == "WebhookLimitExceeded"


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"{",
        b"[]",
        b'{"url": 5}',
        b'{"url": "https://a.example/x", "extra": 1}',
        b'"https://x"',
        b"\xff\xfe",
    ],
)
async def test_malformed_bodies(client: httpx.AsyncClient, content: bytes) -> None:
    response = await client.post(
        "/2/webhooks", content=content, headers=APP_BEARER | {"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


async def test_oversized_body(client: httpx.AsyncClient) -> None:
    huge = b'{"url": "https://example.com/' + b"a" * 70_000 + b'"}'
    response = await client.post(
        "/2/webhooks", content=huge, headers=APP_BEARER | {"content-type": "application/json"}
    )
    assert response.status_code == 413


async def test_webhook_admin_is_bearer_only(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    assert (await client.get("/2/webhooks")).status_code == 401
    assert (await client.get("/2/webhooks", headers={"Authorization": "Bearer nope"})).status_code == 401
    as_brand = await client.get("/2/webhooks", auth=OAuth1())
    assert as_brand.status_code == 403
    body = as_brand.json()
    assert body["type"].endswith("/unsupported-authentication")
    assert "OAuth 1.0a User Context is forbidden" in body["detail"]
    as_user = await client.post("/2/webhooks", json={"url": "https://a.example/x"}, headers=alice.auth)
    assert as_user.status_code == 403 and "OAuth 2.0 User Context" in as_user.json()["detail"]
    for method in ("PUT", "DELETE"):
        response = await client.request(method, "/2/webhooks/123", headers=alice.auth)
        assert response.status_code == 403


async def test_revalidation(client: httpx.AsyncClient, sim: Sim, receiver: Receiver) -> None:
    webhook_id = await register(client, receiver.url)
    await subscribe(client, webhook_id, OAuth1())
    alice = await sim.user("alice")

    receiver.crc_mode = "wrong"
    response = await client.put(f"/2/webhooks/{webhook_id}", headers=APP_BEARER)
    assert response.json() == {"data": {"valid": False}}
    listed = (await client.get("/2/webhooks", headers=APP_BEARER)).json()["data"]
    assert listed[0]["valid"] is False
    state = (await client.get("/_sim/webhooks")).json()
    assert "Invalid `response_token`" in state["webhooks"][0]["last_crc_error"]

    await sim.post(alice.auth, "@ExampleBankHelp anyone there?")  # an invalid webhook gets nothing
    receiver.crc_mode = "ok"
    assert (await client.put(f"/2/webhooks/{webhook_id}", headers=APP_BEARER)).json() == {
        "data": {"valid": True}
    }
    await sim.post(alice.auth, "@ExampleBankHelp hello?")
    await settled(client)
    texts = [p["tweet_create_events"][0]["text"] for p in receiver.accepted]
    assert texts == ["@ExampleBankHelp hello?"]


async def test_unknown_and_malformed_webhook_ids(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    calls = [
        ("PUT", "/2/webhooks/{}", APP_BEARER),
        ("DELETE", "/2/webhooks/{}", APP_BEARER),
        ("POST", "/2/account_activity/webhooks/{}/subscriptions/all", alice.auth),
        ("GET", "/2/account_activity/webhooks/{}/subscriptions/all", alice.auth),
        ("GET", "/2/account_activity/webhooks/{}/subscriptions/all/list", APP_BEARER),
        ("DELETE", "/2/account_activity/webhooks/{}/subscriptions/1/all", APP_BEARER),
    ]
    for method, path, headers in calls:
        missing = await client.request(method, path.format("123456"), headers=headers)
        assert reason(missing) == "WebhookIdInvalid", (method, path)
        malformed = await client.request(method, path.format("12ab"), headers=headers)
        assert malformed.status_code == 400 and "webhook_id" in malformed.json()["errors"][0]["parameters"]


async def test_delete_webhook(client: httpx.AsyncClient, receiver: Receiver) -> None:
    webhook_id = await register(client, receiver.url)
    response = await client.delete(f"/2/webhooks/{webhook_id}", headers=APP_BEARER)
    assert response.json() == {"data": {"deleted": True}}
    assert reason(await client.delete(f"/2/webhooks/{webhook_id}", headers=APP_BEARER)) == "WebhookIdInvalid"
    await register(client, receiver.url)  # the limit is free again


async def test_webhook_rate_limit(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.configure(rate_limits={"webhooks_app": 1})
    assert (await client.get("/2/webhooks", headers=APP_BEARER)).status_code == 200
    limited = await client.get("/2/webhooks", headers=APP_BEARER)
    assert limited.status_code == 429
    assert limited.headers["x-rate-limit-remaining"] == "0"


# -- subscriptions ---------------------------------------------------------------------------


async def test_subscriptions(client: httpx.AsyncClient, sim: Sim, receiver: Receiver) -> None:
    webhook_id = await register(client, receiver.url)
    alice = await sim.user("alice")
    path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions"

    check = await client.get(f"{path}/all", auth=OAuth1())
    assert check.json() == {"data": {"subscribed": False}}
    await subscribe(client, webhook_id, OAuth1())
    assert (await client.get(f"{path}/all", auth=OAuth1())).json() == {"data": {"subscribed": True}}
    assert (await client.get(f"{path}/all", headers=alice.auth)).json() == {"data": {"subscribed": False}}
    assert reason(await client.post(f"{path}/all", auth=OAuth1())) == "DuplicateSubscriptionFailed"
    await subscribe(client, webhook_id, alice.auth)

    listed = await client.get(f"{path}/all/list", headers=APP_BEARER)
    assert listed.json() == {
        "data": {
            "application_id": CONFIG.app_id,
            "webhook_id": webhook_id,
            "webhook_url": receiver.url,
            "subscriptions": [{"user_id": BRAND_ID}, {"user_id": alice.id}],
        }
    }
    count = await client.get("/2/account_activity/subscriptions/count", headers=APP_BEARER)
    assert count.json() == {
        "data": {
            "account_name": "xsim",
            "provisioned_count": "3",
            "subscriptions_count_all": "2",
            "subscriptions_count_direct_messages": "0",
        }
    }

    removed = await client.delete(f"{path}/{alice.id}/all", headers=APP_BEARER)
    assert removed.json() == {"data": {"subscribed": False}}
    assert reason(await client.delete(f"{path}/{alice.id}/all", headers=APP_BEARER)) == "SubscriptionNotFound"
    bad_user = await client.delete(f"{path}/alice/all", headers=APP_BEARER)
    assert bad_user.status_code == 400


async def test_subscription_limit(client: httpx.AsyncClient, sim: Sim, receiver: Receiver) -> None:
    await sim.configure(subscription_limit=1)
    webhook_id = await register(client, receiver.url)
    alice = await sim.user("alice")
    await subscribe(client, webhook_id, OAuth1())
    response = await client.post(
        f"/2/account_activity/webhooks/{webhook_id}/subscriptions/all", headers=alice.auth
    )
    assert reason(response) == "SubscriptionLimitExceeded"


async def test_subscription_auth(client: httpx.AsyncClient, sim: Sim, receiver: Receiver) -> None:
    webhook_id = await register(client, receiver.url)
    alice = await sim.user("alice")
    path = f"/2/account_activity/webhooks/{webhook_id}/subscriptions"
    for method, suffix in (("POST", "/all"), ("GET", "/all")):
        response = await client.request(method, path + suffix, headers=APP_BEARER)
        assert response.status_code == 403
        assert "Application-Only is forbidden" in response.json()["detail"]
    for method, full in (
        ("GET", f"{path}/all/list"),
        ("DELETE", f"{path}/{alice.id}/all"),
        ("GET", "/2/account_activity/subscriptions/count"),
    ):
        response = await client.request(method, full, headers=alice.auth)
        assert response.status_code == 403
        assert "Application-Only]" in response.json()["detail"]
        assert (await client.request(method, full)).status_code == 401


# -- deliveries ------------------------------------------------------------------------------


async def test_mention_reply_and_echo(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice", "Alice A.")
    bob = await sim.user("bob")
    mention = await sim.post(alice.auth, "@ExampleBankHelp where is my #refund $ABC https://example.com/o?1")
    await sim.post(bob.auth, "just talking to myself")  # concerns nobody subscribed
    reply = await sim.post(OAuth1(), "@alice Sorry! We're on it", reply_to=mention)
    state = await settled(client)

    assert all(r.verified for r in receiver.received)
    assert all(r.content_type == "application/json" for r in receiver.received)
    assert len(receiver.accepted) == 2
    first, echo = receiver.accepted
    assert set(first) == {"for_user_id", "tweet_create_events"}
    assert first["for_user_id"] == BRAND_ID
    (tweet,) = first["tweet_create_events"]
    assert tweet["id_str"] == mention and tweet["id"] == int(mention)
    assert tweet["text"] == "@ExampleBankHelp where is my #refund $ABC https://example.com/o?1"
    assert tweet["truncated"] is False
    assert tweet["user"]["id_str"] == alice.id
    assert (tweet["user"]["name"], tweet["user"]["screen_name"]) == ("Alice A.", "alice")
    assert tweet["in_reply_to_status_id_str"] is None
    assert tweet["in_reply_to_user_id_str"] is None
    datetime.strptime(tweet["created_at"], "%a %b %d %H:%M:%S +0000 %Y")
    created = datetime.strptime(tweet["created_at"], "%a %b %d %H:%M:%S +0000 %Y").replace(tzinfo=UTC)
    assert abs(int(tweet["timestamp_ms"]) / 1000 - created.timestamp()) < 1
    assert tweet["entities"]["user_mentions"] == [
        {
            "screen_name": "ExampleBankHelp",
            "name": "Example Bank",
            "id": int(BRAND_ID),
            "id_str": BRAND_ID,
            "indices": [0, 16],
        }
    ]
    assert tweet["entities"]["hashtags"] == [{"text": "refund", "indices": [29, 36]}]
    assert tweet["entities"]["symbols"] == [{"text": "ABC", "indices": [37, 41]}]
    assert tweet["entities"]["urls"][0]["expanded_url"] == "https://example.com/o?1"

    # The brand's own reply comes back too: its author is the subscribed user.
    assert echo["for_user_id"] == BRAND_ID
    (echoed,) = echo["tweet_create_events"]
    assert echoed["id_str"] == reply and echoed["user"]["id_str"] == BRAND_ID
    assert echoed["in_reply_to_status_id_str"] == mention
    assert echoed["in_reply_to_user_id_str"] == alice.id
    assert echoed["in_reply_to_screen_name"] == "alice"
    assert state["deliveries"] == {"delivered": 2, "failed": 0, "discarded": 0, "attempts": 2, "pending": 0}
    assert [(r["kind"], r["event_id"], r["outcome"]) for r in state["recent"]] == [
        ("tweet_create_events", mention, "delivered"),
        ("tweet_create_events", reply, "delivered"),
    ]


async def test_reply_to_a_brand_tweet_without_mention(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    announcement = await sim.post(OAuth1(), "Our app is back up")
    answer = await sim.post(alice.auth, "great news", reply_to=announcement)
    await settled(client)
    ids = [p["tweet_create_events"][0]["id_str"] for p in receiver.accepted]
    assert ids == [announcement, answer]
    assert receiver.accepted[1]["tweet_create_events"][0]["in_reply_to_user_id_str"] == BRAND_ID


async def test_long_tweets_are_truncated_with_extended_text(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    text = "@ExampleBankHelp " + "word " * 45 + "#late"
    await sim.post(alice.auth, text)
    await settled(client)
    (tweet,) = receiver.accepted[0]["tweet_create_events"]
    assert tweet["truncated"] is True
    assert len(tweet["text"]) == 140 and tweet["text"].endswith("…")
    assert tweet["extended_tweet"]["full_text"] == text
    assert tweet["extended_tweet"]["entities"]["hashtags"][0]["text"] == "late"
    assert tweet["entities"]["hashtags"] == []  # beyond the truncated text


async def test_deletes_are_delivered(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    mention = await sim.post(alice.auth, "@ExampleBankHelp my account number is 1234")
    before = time.time()
    assert (await client.delete(f"/2/tweets/{mention}", headers=alice.auth)).status_code == 200
    await settled(client)
    deleted = receiver.accepted[1]
    assert deleted["for_user_id"] == BRAND_ID
    (event,) = deleted["tweet_delete_events"]
    assert event["status"] == {"id": mention, "user_id": alice.id}
    assert int(event["timestamp_ms"]) >= int(before * 1000) - 1


async def test_direct_messages_and_their_echo(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice", "Alice")
    sent = await client.post("/_sim/dms", json={"from_username": "alice", "text": "my card @ExampleBankHelp"})
    dm_id = sent.json()["data"]["dm_event_id"]
    answer = await client.post(
        f"/2/dm_conversations/with/{alice.id}/messages", json={"text": "Which card?"}, auth=OAuth1()
    )
    answer_id = answer.json()["data"]["dm_event_id"]
    await settled(client)

    assert all(r.verified for r in receiver.received)
    received, echo = receiver.accepted
    assert set(received) == {"for_user_id", "direct_message_events", "users"}
    assert received["for_user_id"] == BRAND_ID
    (event,) = received["direct_message_events"]
    assert event["type"] == "message_create" and event["id"] == dm_id
    assert event["created_timestamp"].isdigit()
    create = event["message_create"]
    assert create["target"] == {"recipient_id": BRAND_ID}
    assert create["sender_id"] == alice.id
    assert "source_app_id" not in create  # typed in the (simulated) X app
    assert create["message_data"]["text"] == "my card @ExampleBankHelp"
    assert create["message_data"]["entities"]["user_mentions"][0]["indices"] == [8, 24]
    assert set(received["users"]) == {alice.id, BRAND_ID}
    assert received["users"][alice.id]["screen_name"] == "alice"
    assert received["users"][alice.id]["id"] == alice.id

    assert echo["for_user_id"] == BRAND_ID
    (sent_event,) = echo["direct_message_events"]
    assert sent_event["id"] == answer_id
    assert sent_event["message_create"]["sender_id"] == BRAND_ID  # the echo: sender is the subscriber
    assert sent_event["message_create"]["target"] == {"recipient_id": alice.id}
    assert sent_event["message_create"]["source_app_id"] == CONFIG.app_id
    assert set(echo["apps"]) == {CONFIG.app_id}


async def test_every_subscribed_user_gets_a_copy(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    await subscribe(client, hooked, alice.auth)
    await sim.post(alice.auth, "@ExampleBankHelp hi")  # alice's echo and the brand's mention
    await sim.post(bob.auth, "@alice hello")  # only alice's
    await client.post("/_sim/dms", json={"from_username": "bob", "to_username": "alice", "text": "psst"})
    await settled(client)
    seen = [(p["for_user_id"], "tweet" if "tweet_create_events" in p else "dm") for p in receiver.accepted]
    assert seen == [(BRAND_ID, "tweet"), (alice.id, "tweet"), (alice.id, "tweet"), (alice.id, "dm")]


async def test_group_dms_are_not_delivered(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    body = {"conversation_type": "Group", "participant_ids": [BRAND_ID, bob.id], "message": {"text": "all"}}
    assert (await client.post("/2/dm_conversations", json=body, headers=alice.auth)).status_code == 201
    state = await settled(client)
    assert receiver.received == [] and state["deliveries"]["attempts"] == 0


async def test_retries_then_success(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    receiver.statuses.extend([500, 503])
    await sim.post(alice.auth, "@ExampleBankHelp are you there")
    state = await settled(client)
    assert [r.status for r in receiver.received] == [500, 503, 200]
    assert len({r.body for r in receiver.received}) == 1  # the same bytes every time
    assert state["deliveries"] | {"pending": 0} == {
        "delivered": 1,
        "failed": 0,
        "discarded": 0,
        "attempts": 3,
        "pending": 0,
    }
    assert state["recent"][0]["attempts"] == 3


async def test_failures_are_dropped_and_counted(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    receiver.statuses.extend([500, 500, 500, 404])
    await sim.post(alice.auth, "@ExampleBankHelp one")
    await sim.post(alice.auth, "@ExampleBankHelp two")
    state = await settled(client)
    assert [r.status for r in receiver.received] == [500, 500, 500, 404, 200]
    assert state["deliveries"]["failed"] == 1 and state["deliveries"]["delivered"] == 1
    assert state["webhooks"][0]["failed"] == 1 and state["webhooks"][0]["delivered"] == 1
    failed, delivered = state["recent"]
    assert (failed["outcome"], failed["attempts"], failed["status_code"], failed["error"]) == (
        "failed",
        3,
        500,
        "HTTP 500",
    )
    assert delivered["outcome"] == "delivered" and delivered["attempts"] == 2


async def test_connection_errors_and_timeouts_are_failures(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    receiver.post_delay = 0.7  # beyond the 0.5 s the app waits
    await sim.configure(webhook_retries=0)
    await sim.post(alice.auth, "@ExampleBankHelp slow")
    state = await settled(client)
    assert state["recent"][0]["outcome"] == "failed"
    assert "no answer within 0.5 seconds" in state["recent"][0]["error"]

    receiver.post_delay = 0
    gone = Receiver(CONFIG.consumer_secret)
    gone.start()
    await sim.configure(webhook_limit=2)
    second = await register(client, gone.url)
    await subscribe(client, second, alice.auth)
    gone.stop()
    await sim.post(alice.auth, "nobody listens on the second webhook")
    state = await settled(client)
    assert state["recent"][-1]["outcome"] == "failed"
    assert state["recent"][-1]["error"] == "ConnectError"


async def test_deliveries_never_block_the_api(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    receiver.paused = True  # the receiver answers nothing until released
    try:
        for n in range(3):
            await sim.post(alice.auth, f"@ExampleBankHelp quick {n}")  # returns all the same
        await until(lambda: receiver.arrived == 1)
        state = (await client.get("/_sim/webhooks")).json()
        assert state["deliveries"]["pending"] == 3 and receiver.received == []
    finally:
        receiver.paused = False
    await settled(client)
    assert len(receiver.accepted) == 3


async def test_deleting_the_webhook_discards_queued_deliveries(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    receiver.paused = True
    try:
        await sim.post(alice.auth, "@ExampleBankHelp a")
        await sim.post(alice.auth, "@ExampleBankHelp b")
        await until(lambda: receiver.arrived == 1)  # the first is in flight, the second queued
        await client.delete(f"/2/webhooks/{hooked}", headers=APP_BEARER)
    finally:
        receiver.paused = False
    state = await settled(client)
    assert (state["deliveries"]["delivered"], state["deliveries"]["discarded"]) == (1, 1)
    assert state["webhooks"] == []
    assert [r["outcome"] for r in state["recent"]] == ["delivered", "discarded"]


async def test_duplicate_fault(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str, app: Any
) -> None:
    app.state.sim.faults.configure(FaultConfig(duplicate_rate=1.0, seed=1))
    alice = await sim.user("alice")
    await sim.post(alice.auth, "@ExampleBankHelp once")
    await sim.post(alice.auth, "@ExampleBankHelp twice")
    state = await settled(client)
    bodies = [r.body for r in receiver.received]
    assert len(bodies) == 4 and bodies[0] == bodies[1] and bodies[2] == bodies[3] and bodies[0] != bodies[2]
    assert all(r.verified for r in receiver.received)
    assert app.state.sim.faults.counts["duplicate"] == 2
    assert state["deliveries"]["delivered"] == 4
    assert [r["duplicate"] for r in state["recent"]] == [False, True, False, True]


async def test_reorder_fault(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str, app: Any
) -> None:
    app.state.sim.faults.configure(FaultConfig(reorder_rate=1.0, seed=1))
    await sim.user("alice")
    posted = await burst(app, "alice", [f"@ExampleBankHelp n{n}" for n in range(4)])
    await settled(client)
    ids = [p["tweet_create_events"][0]["id_str"] for p in receiver.accepted]
    assert ids == [posted[1], posted[0], posted[3], posted[2]]
    assert app.state.sim.faults.counts["reorder"] == 2


async def test_a_held_delivery_is_not_lost(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str, app: Any
) -> None:
    app.state.sim.faults.configure(FaultConfig(reorder_rate=1.0, seed=1))
    alice = await sim.user("alice")
    only = await sim.post(alice.auth, "@ExampleBankHelp alone")
    await settled(client)
    assert [p["tweet_create_events"][0]["id_str"] for p in receiver.accepted] == [only]


async def test_seeded_faults_are_reproducible(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, app: Any
) -> None:
    async def run() -> tuple[list[str], dict[str, int]]:
        await client.post("/_sim/reset")
        receiver.reset()
        webhook_id = await register(client, receiver.url)
        await subscribe(client, webhook_id, OAuth1())
        app.state.sim.faults.configure(FaultConfig(duplicate_rate=0.3, reorder_rate=0.3, seed=42))
        await sim.user("alice")
        await burst(app, "alice", [f"@ExampleBankHelp event {n}" for n in range(12)])
        await settled(client)
        texts = [p["tweet_create_events"][0]["text"] for p in receiver.accepted]
        return texts, dict(app.state.sim.faults.counts)

    first_texts, first_counts = await run()
    second_texts, second_counts = await run()
    assert first_texts == second_texts and first_counts == second_counts
    assert first_counts.get("duplicate", 0) > 0 and first_counts.get("reorder", 0) > 0
    # Deduplicated by text (the tweet id changes between runs), every event arrived.
    assert sorted(set(first_texts)) == sorted(f"@ExampleBankHelp event {n}" for n in range(12))
    assert len(first_texts) == 12 + first_counts["duplicate"]
    assert first_texts != sorted(first_texts, key=lambda t: int(t.rsplit(" ", 1)[1]))


async def test_reset_forgets_webhooks(
    client: httpx.AsyncClient, sim: Sim, receiver: Receiver, hooked: str
) -> None:
    alice = await sim.user("alice")
    await sim.post(alice.auth, "@ExampleBankHelp before reset")
    await settled(client)
    await client.post("/_sim/reset")
    state = (await client.get("/_sim/webhooks")).json()
    assert state == {
        "webhooks": [],
        "deliveries": {"delivered": 0, "failed": 0, "discarded": 0, "attempts": 0, "pending": 0},
        "recent": [],
    }
    assert (await client.get("/2/webhooks", headers=APP_BEARER)).json()["meta"]["result_count"] == 0


async def test_shutdown_stops_the_delivery_task(receiver: Receiver) -> None:
    app = create_app(FAST)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://xsim.test") as client:
            sim = Sim(client)
            webhook_id = await register(client, receiver.url)
            await subscribe(client, webhook_id, OAuth1())
            alice: SimUser = await sim.user("alice")
            receiver.paused = True
            try:
                await sim.post(alice.auth, "@ExampleBankHelp slow one")
                await until(lambda: receiver.arrived == 1)
                worker = app.state.sim.webhooks._worker
                assert worker is not None and not worker.done()
            finally:
                receiver.paused = False
    assert worker.done()
