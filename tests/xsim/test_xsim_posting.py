"""POST /2/tweets and DELETE /2/tweets/:id: rules, threading and error bodies."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from xsim_support import APP_BEARER, BRAND_ID, Sim, SimUser

from xsim.app import create_app
from xsim.config import SimConfig

DUPLICATE = {
    "detail": "You are not allowed to create a Tweet with duplicate content.",
    "type": "about:blank",
    "title": "Forbidden",
    "status": 403,
}


async def _records(client: httpx.AsyncClient, **params: str) -> list[dict[str, Any]]:
    response = await client.get("/_sim/tweets", params=params)
    tweets: list[dict[str, Any]] = response.json()["tweets"]
    return tweets


@pytest.fixture
async def alice(sim: Sim) -> SimUser:
    return await sim.user("alice", "Alice")


async def test_created_tweet_response_and_location(client: httpx.AsyncClient, alice: SimUser) -> None:
    response = await client.post("/2/tweets", json={"text": "@ExampleBankHelp hi"}, headers=alice.auth)
    assert response.status_code == 201
    body = response.json()
    tweet_id = body["data"]["id"]
    assert body == {
        "data": {"id": tweet_id, "text": "@ExampleBankHelp hi", "edit_history_tweet_ids": [tweet_id]}
    }
    assert response.headers["location"] == f"http://xsim.test/2/tweets/{tweet_id}"


async def test_public_url_sets_the_location_base(brand) -> None:
    app = create_app(SimConfig(public_url="https://api.x.com/"))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://127.0.0.1:8100"
    ) as other:
        response = await other.post("/2/tweets", json={"text": "hello"}, auth=brand())
    assert response.headers["location"] == f"https://api.x.com/2/tweets/{response.json()['data']['id']}"


async def test_tweet_is_stored_with_metadata(client: httpx.AsyncClient, sim: Sim, alice) -> None:
    tweet_id = await sim.post(alice.auth, "@ExampleBankHelp @nobody hi")
    (record,) = await _records(client)
    assert record["id"] == tweet_id
    assert record["author_id"] == alice.id and record["author_username"] == "alice"
    assert record["conversation_id"] == tweet_id
    assert record["in_reply_to_tweet_id"] is None and record["deleted"] is False
    mentions = record["entities"]["mentions"]
    assert mentions[0] == {"start": 0, "end": 16, "username": "ExampleBankHelp", "id": BRAND_ID}
    assert mentions[1] == {"start": 17, "end": 24, "username": "nobody"}  # no such user: no id


async def test_reply_threading(client: httpx.AsyncClient, sim: Sim, alice, brand) -> None:
    root = await sim.post(alice.auth, "@ExampleBankHelp card blocked")
    first = await sim.post(brand(), "@alice sorry! which card?", reply_to=root)
    second = await sim.post(alice.auth, "@ExampleBankHelp the debit one", reply_to=first)
    third = await sim.post(brand(), "@alice fixed", reply_to=second)
    unrelated = await sim.post(alice.auth, "@ExampleBankHelp another thing")
    thread = await _records(client, conversation_id=root)
    assert [t["id"] for t in thread] == [root, first, second, third]
    assert [t["in_reply_to_tweet_id"] for t in thread] == [None, root, first, second]
    assert [t["in_reply_to_user_id"] for t in thread] == [None, alice.id, BRAND_ID, alice.id]
    lookup = await client.get(
        f"/2/tweets/{third}",
        params={"tweet.fields": "conversation_id,referenced_tweets,in_reply_to_user_id"},
        headers=APP_BEARER,
    )
    assert lookup.json()["data"]["conversation_id"] == root
    assert lookup.json()["data"]["referenced_tweets"] == [{"type": "replied_to", "id": second}]
    assert [t["id"] for t in await _records(client, conversation_id=unrelated)] == [unrelated]


async def test_duplicate_content_from_same_author_is_403(client: httpx.AsyncClient, sim: Sim, alice) -> None:
    await sim.post(alice.auth, "@ExampleBankHelp same words")
    again = await client.post("/2/tweets", json={"text": "@ExampleBankHelp same words"}, headers=alice.auth)
    assert again.status_code == 403
    assert again.json() == DUPLICATE
    bob = await sim.user("bob")
    await sim.post(bob.auth, "@ExampleBankHelp same words")  # another author may


async def test_deleting_frees_the_text_again(client: httpx.AsyncClient, sim: Sim, alice) -> None:
    tweet_id = await sim.post(alice.auth, "once")
    await client.delete(f"/2/tweets/{tweet_id}", headers=alice.auth)
    await sim.post(alice.auth, "once")


@pytest.mark.parametrize(
    ("text", "status"),
    [
        ("x" * 280, 201),
        ("x" * 281, 400),
        ("😀" * 280, 201),  # code points, not UTF-16 units or bytes
        ("😀" * 281, 400),
        ("e\u0301" * 140, 201),  # NFC turns each pair into one code point
        ("", 400),
        ("   \n", 400),
    ],
)
async def test_length_rules(client: httpx.AsyncClient, alice, text: str, status: int) -> None:
    response = await client.post("/2/tweets", json={"text": text}, headers=alice.auth)
    assert response.status_code == status, response.text
    if status == 400:
        assert response.json()["type"] == "https://api.twitter.com/2/problems/invalid-request"


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"text": 5},
        {"text": None},
        {"text": ["a"]},
        {"text": "hi", "reply": {}},
        {"text": "hi", "reply": {"in_reply_to_tweet_id": 123}},
        {"text": "hi", "reply": {"in_reply_to_tweet_id": "abc"}},
        {"text": "hi", "reply": "123"},
        {"text": "hi", "poll": {"options": ["a", "b"], "duration_minutes": 5}},
        ["text", "hi"],
        "hi",
    ],
)
async def test_malformed_bodies_are_400(client: httpx.AsyncClient, alice, body: Any) -> None:
    response = await client.post("/2/tweets", json=body, headers=alice.auth)
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


async def test_reply_to_missing_or_deleted_tweet_is_403(
    client: httpx.AsyncClient, sim: Sim, alice, brand
) -> None:
    tweet_id = await sim.post(alice.auth, "@ExampleBankHelp hi")
    await client.delete(f"/2/tweets/{tweet_id}", headers=alice.auth)
    for parent in (tweet_id, "1234"):
        body = {"text": "@alice hello", "reply": {"in_reply_to_tweet_id": parent}}
        response = await client.post("/2/tweets", json=body, auth=brand())
        assert response.status_code == 403
        assert response.json()["detail"] == (
            "You attempted to reply to a Tweet that is deleted or not visible to you."
        )


async def test_quote_tweets(client: httpx.AsyncClient, sim: Sim, alice, brand) -> None:
    quoted = await sim.post(alice.auth, "@ExampleBankHelp look at this")
    quote = await sim.post(brand(), "We hear you", quote_tweet_id=quoted)
    lookup = await client.get(
        f"/2/tweets/{quote}", params={"tweet.fields": "referenced_tweets"}, headers=APP_BEARER
    )
    assert lookup.json()["data"]["referenced_tweets"] == [{"type": "quoted", "id": quoted}]
    missing = await client.post("/2/tweets", json={"text": "hmm", "quote_tweet_id": "1"}, auth=brand())
    assert missing.status_code == 403


async def test_reply_restriction(client: httpx.AsyncClient, sim: Sim, alice, brand) -> None:
    bob = await sim.user("bob")
    quote_of_bob = await sim.post(alice.auth, "see", quote_tweet_id=await sim.post(bob.auth, "hi"))
    await sim.configure(reply_restriction=True)
    mention = await sim.post(alice.auth, "@ExampleBankHelp my card")
    unmentioned = await sim.post(alice.auth, "just me talking")

    # Mentioned by the parent's author: allowed. So is replying to yourself.
    reply = await sim.post(brand(), "@alice we're on it", reply_to=mention)
    await sim.post(alice.auth, "@ExampleBankHelp thanks", reply_to=reply)
    await sim.post(alice.auth, "and more", reply_to=unmentioned)
    # The parent quotes the replier: allowed.
    await sim.post(bob.auth, "@alice yes", reply_to=quote_of_bob)

    refused = await client.post(
        "/2/tweets",
        json={"text": "@alice hello", "reply": {"in_reply_to_tweet_id": unmentioned}},
        auth=brand(),
    )
    assert refused.status_code == 403
    assert refused.json() == {
        "title": "Authorization Error",
        "detail": "You can only reply to or quote posts where you are mentioned or are the author.",
        "type": "https://api.twitter.com/2/problems/not-authorized-for-resource",
        "status": 403,
    }
    quote = await client.post("/2/tweets", json={"text": "hm", "quote_tweet_id": unmentioned}, auth=brand())
    assert quote.status_code == 403

    await sim.configure(reply_restriction=False)
    await sim.post(brand(), "@alice hello", reply_to=unmentioned)


async def test_delete_own_tweet(client: httpx.AsyncClient, sim: Sim, alice) -> None:
    tweet_id = await sim.post(alice.auth, "@ExampleBankHelp oops")
    response = await client.delete(f"/2/tweets/{tweet_id}", headers=alice.auth)
    assert response.status_code == 200
    assert response.json() == {"data": {"deleted": True}}
    (record,) = await _records(client)
    assert record["deleted"] is True
    again = await client.delete(f"/2/tweets/{tweet_id}", headers=alice.auth)
    assert again.json()["errors"][0]["title"] == "Not Found Error"


async def test_only_the_owner_may_delete(client: httpx.AsyncClient, sim: Sim, alice, brand) -> None:
    tweet_id = await sim.post(alice.auth, "@ExampleBankHelp mine")
    bob = await sim.user("bob")
    for auth in ({"headers": bob.auth}, {"auth": brand()}):
        response = await client.delete(f"/2/tweets/{tweet_id}", **auth)
        assert response.status_code == 403
        assert response.json()["title"] == "Forbidden"
    assert (await _records(client))[0]["deleted"] is False


async def test_hostile_text_is_stored_and_returned_verbatim(
    client: httpx.AsyncClient, sim: Sim, alice
) -> None:
    text = "@ExampleBankHelp <script>alert('x')</script> \"quotes\" & \u202e\u0000 ☃ \\u0041"
    tweet_id = await sim.post(alice.auth, text)
    response = await client.get(f"/2/tweets/{tweet_id}", headers=APP_BEARER)
    assert response.json()["data"]["text"] == text
