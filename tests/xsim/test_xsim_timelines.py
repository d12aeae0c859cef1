"""Mentions, search and tweet lookup: paging, fields, expansions, envelopes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from xsim_support import APP_BEARER, BRAND_ID, Sim

MENTIONS = f"/2/users/{BRAND_ID}/mentions"
SEARCH = "/2/tweets/search/recent"


async def _get(client: httpx.AsyncClient, path: str, **params: Any) -> dict[str, Any]:
    response = await client.get(path, params=params, headers=APP_BEARER)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def _mentions_posted(sim: Sim, count: int) -> list[str]:
    alice = await sim.user("alice")
    return [await sim.post(alice.auth, f"@ExampleBankHelp message {n}") for n in range(count)]


async def test_empty_page_is_just_meta(client: httpx.AsyncClient) -> None:
    assert await _get(client, MENTIONS) == {"meta": {"result_count": 0}}
    assert await _get(client, SEARCH, query="nothing") == {"meta": {"result_count": 0}}


async def test_mentions_are_newest_first_with_meta(client: httpx.AsyncClient, sim: Sim) -> None:
    ids = await _mentions_posted(sim, 3)
    body = await _get(client, MENTIONS)
    assert [t["id"] for t in body["data"]] == ids[::-1]
    assert body["meta"] == {"newest_id": ids[2], "oldest_id": ids[0], "result_count": 3}
    assert set(body["data"][0]) == {"id", "text", "edit_history_tweet_ids"}
    assert body["data"][0]["edit_history_tweet_ids"] == [ids[2]]


async def test_ids_are_increasing_19_digit_strings(sim: Sim) -> None:
    ids = await _mentions_posted(sim, 20)
    assert all(len(i) == 19 and i.isdigit() for i in ids)
    assert [int(i) for i in ids] == sorted(int(i) for i in ids)
    assert len(set(ids)) == len(ids)


async def test_since_id_is_exclusive_and_until_id_too(client: httpx.AsyncClient, sim: Sim) -> None:
    ids = await _mentions_posted(sim, 5)
    since = await _get(client, MENTIONS, since_id=ids[1])
    assert [t["id"] for t in since["data"]] == ids[:1:-1]
    until = await _get(client, MENTIONS, until_id=ids[3])
    assert [t["id"] for t in until["data"]] == ids[2::-1]
    both = await _get(client, MENTIONS, since_id=ids[0], until_id=ids[4])
    assert [t["id"] for t in both["data"]] == ids[3:0:-1]
    assert await _get(client, MENTIONS, since_id=ids[4]) == {"meta": {"result_count": 0}}


async def test_pagination_walks_everything_once(client: httpx.AsyncClient, sim: Sim) -> None:
    ids = await _mentions_posted(sim, 12)
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params: dict[str, Any] = {"max_results": 5}
        if token:
            params["pagination_token"] = token
        body = await _get(client, MENTIONS, **params)
        pages += 1
        seen += [t["id"] for t in body["data"]]
        token = body["meta"].get("next_token")
        if token is None:
            break
    assert pages == 3
    assert seen == ids[::-1]


async def test_polling_with_since_id_sees_only_new_mentions(client: httpx.AsyncClient, sim: Sim) -> None:
    """The contract's polling recipe: remember the first page's newest_id."""
    ids = await _mentions_posted(sim, 2)
    first = await _get(client, MENTIONS)
    newest = first["meta"]["newest_id"]
    assert newest == ids[-1]
    bob = await sim.user("bob")
    new_id = await sim.post(bob.auth, "@ExampleBankHelp me too")
    later = await _get(client, MENTIONS, since_id=newest)
    assert [t["id"] for t in later["data"]] == [new_id]


async def test_mentions_include_replies_but_not_own_tweets(
    client: httpx.AsyncClient, sim: Sim, brand
) -> None:
    alice = await sim.user("alice")
    mention = await sim.post(alice.auth, "@ExampleBankHelp help")
    brand_reply = await sim.post(brand(), "@alice on it", reply_to=mention)
    reply_without_handle = await sim.post(alice.auth, "thanks!", reply_to=brand_reply)
    unrelated = await sim.post(alice.auth, "nice weather")
    body = await _get(client, MENTIONS)
    ids = [t["id"] for t in body["data"]]
    assert ids == [reply_without_handle, mention]
    assert unrelated not in ids and brand_reply not in ids
    alice_mentions = await _get(client, f"/2/users/{alice.id}/mentions")
    assert [t["id"] for t in alice_mentions["data"]] == [brand_reply]


async def test_fields_and_expansions(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice", "Alice A")
    root_text = "@ExampleBankHelp my order is late #orders https://ex.am/p"
    root = await sim.post(alice.auth, root_text)
    reply = await sim.post(brand(), "@alice Sorry, we're on it!", reply_to=root)
    follow_up = await sim.post(alice.auth, "@ExampleBankHelp thanks", reply_to=reply)
    body = await _get(
        client,
        MENTIONS,
        **{
            "tweet.fields": "created_at,author_id,conversation_id,in_reply_to_user_id,"
            "referenced_tweets,entities,lang",
            "expansions": "author_id,referenced_tweets.id,in_reply_to_user_id,"
            "entities.mentions.username,referenced_tweets.id.author_id",
            "user.fields": "username,name,created_at",
        },
    )
    newest, oldest = body["data"]
    assert newest["id"] == follow_up
    assert newest["author_id"] == alice.id
    assert newest["conversation_id"] == root
    assert newest["in_reply_to_user_id"] == BRAND_ID
    assert newest["referenced_tweets"] == [{"type": "replied_to", "id": reply}]
    assert newest["lang"] == "en"
    assert newest["created_at"].endswith("Z") and len(newest["created_at"]) == 24
    assert newest["entities"] == {
        "mentions": [{"start": 0, "end": 16, "username": "ExampleBankHelp", "id": BRAND_ID}]
    }
    assert oldest["id"] == root
    assert "in_reply_to_user_id" not in oldest and "referenced_tweets" not in oldest
    tag_at = root_text.index("#orders")
    assert oldest["entities"]["hashtags"] == [{"start": tag_at, "end": tag_at + 7, "tag": "orders"}]
    assert oldest["entities"]["urls"][0]["expanded_url"] == "https://ex.am/p"

    users = {u["id"]: u for u in body["includes"]["users"]}
    assert set(users) == {alice.id, BRAND_ID}
    assert users[alice.id]["name"] == "Alice A" and "created_at" in users[alice.id]
    assert [t["id"] for t in body["includes"]["tweets"]] == [reply]
    assert body["includes"]["tweets"][0]["author_id"] == BRAND_ID


async def test_deleted_referenced_tweet_is_a_partial_error(
    client: httpx.AsyncClient, sim: Sim, brand
) -> None:
    alice = await sim.user("alice")
    reply = await sim.post(brand(), "@alice hello there")
    mention = await sim.post(alice.auth, "@ExampleBankHelp hi", reply_to=reply)
    assert (await client.delete(f"/2/tweets/{reply}", auth=brand())).status_code == 200
    body = await _get(client, f"/2/tweets/{mention}", expansions="referenced_tweets.id")
    assert body["data"]["id"] == mention
    assert "includes" not in body
    (error,) = body["errors"]
    assert error["type"] == "https://api.twitter.com/2/problems/resource-not-found"
    assert error["parameter"] == "referenced_tweets.id" and error["resource_id"] == reply


async def test_tweet_lookup_and_missing_tweet(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    tweet_id = await sim.post(alice.auth, "@ExampleBankHelp hi")
    found = await _get(client, f"/2/tweets/{tweet_id}", **{"tweet.fields": "author_id"})
    assert found == {
        "data": {
            "id": tweet_id,
            "text": "@ExampleBankHelp hi",
            "edit_history_tweet_ids": [tweet_id],
            "author_id": alice.id,
        }
    }
    await client.delete(f"/2/tweets/{tweet_id}", headers=alice.auth)
    for missing in (tweet_id, "42"):
        gone = await _get(client, f"/2/tweets/{missing}")
        assert list(gone) == ["errors"]
        assert gone["errors"][0]["title"] == "Not Found Error"
        assert gone["errors"][0]["resource_type"] == "tweet"
        assert gone["errors"][0]["value"] == missing


async def test_mentions_of_unknown_user_is_a_not_found_error(client: httpx.AsyncClient) -> None:
    body = await _get(client, "/2/users/123/mentions")
    assert body["errors"][0]["resource_type"] == "user"


@pytest.mark.parametrize(
    ("path", "params", "bad"),
    [
        (MENTIONS, {"max_results": "0"}, "max_results"),
        (MENTIONS, {"max_results": "4"}, "max_results"),
        (MENTIONS, {"max_results": "101"}, "max_results"),
        (MENTIONS, {"max_results": "ten"}, "max_results"),
        (SEARCH, {"query": "hi", "max_results": "5"}, "max_results"),
        (MENTIONS, {"since_id": "abc"}, "since_id"),
        (MENTIONS, {"until_id": "12345678901234567890"}, "until_id"),
        (MENTIONS, {"pagination_token": "not a token!"}, "pagination_token"),
        (MENTIONS, {"tweet.fields": "author_id,colour"}, "tweet.fields"),
        (MENTIONS, {"expansions": "everything"}, "expansions"),
        (MENTIONS, {"user.fields": ""}, "user.fields"),
        (MENTIONS, {"start_time": "yesterday"}, "start_time"),
        (MENTIONS, {"start_time": "2024-01-01T00:00:00"}, "start_time"),
        (MENTIONS, {"surprise": "1"}, "surprise"),
        ("/2/users/abc/mentions", {}, "id"),
        ("/2/tweets/abc", {}, "id"),
        (SEARCH, {"query": "hi", "sort_order": "random"}, "sort_order"),
    ],
)
async def test_invalid_parameters_get_the_invalid_request_shape(
    client: httpx.AsyncClient, path: str, params: dict[str, str], bad: str
) -> None:
    response = await client.get(path, params=params, headers=APP_BEARER)
    assert response.status_code == 400
    body = response.json()
    assert body["title"] == "Invalid Request"
    assert body["detail"] == "One or more parameters to your request was invalid."
    assert body["type"] == "https://api.twitter.com/2/problems/invalid-request"
    assert bad in body["errors"][0]["parameters"]


async def test_max_results_message_matches_x(client: httpx.AsyncClient) -> None:
    response = await client.get(MENTIONS, params={"max_results": "0"}, headers=APP_BEARER)
    assert response.json()["errors"] == [
        {
            "parameters": {"max_results": ["0"]},
            "message": "The `max_results` query parameter value [0] is not between 5 and 100",
        }
    ]


async def test_time_bounds(client: httpx.AsyncClient, sim: Sim) -> None:
    ids = await _mentions_posted(sim, 2)
    assert await _get(client, MENTIONS, start_time="2100-01-01T00:00:00Z") == {"meta": {"result_count": 0}}
    past = await _get(client, MENTIONS, start_time="2020-01-01T00:00:00Z")
    assert past["meta"]["result_count"] == 2
    assert await _get(client, MENTIONS, end_time="2020-01-01T00:00:00Z") == {"meta": {"result_count": 0}}
    # Ids take precedence over times.
    by_id = await _get(client, MENTIONS, since_id=ids[0], start_time="2100-01-01T00:00:00Z")
    assert by_id["meta"]["result_count"] == 1


# -- search ----------------------------------------------------------------------------------


async def _search(client: httpx.AsyncClient, query: str, **params: Any) -> list[str]:
    body = await _get(client, SEARCH, query=query, **params)
    return [t["id"] for t in body.get("data", [])]


async def test_search_operators(client: httpx.AsyncClient, sim: Sim, brand) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("Bob_2")
    a1 = await sim.post(alice.auth, "@ExampleBankHelp my CARD is blocked")
    b1 = await sim.post(bob.auth, "@ExampleBankHelp where is my refund? #refunds")
    r1 = await sim.post(brand(), "@alice Sorry about the card, DM us", reply_to=a1)
    a2 = await sim.post(alice.auth, "thanks, card works now", reply_to=r1)
    other = await sim.post(bob.auth, "cards are fun")

    assert await _search(client, "@ExampleBankHelp") == [b1, a1]
    assert await _search(client, "@examplebankhelp -is:retweet") == [b1, a1]
    assert await _search(client, f"conversation_id:{a1}") == [a2, r1, a1]
    assert await _search(client, "from:alice") == [a2, a1]
    assert await _search(client, "from:@ALICE is:reply") == [a2]
    assert await _search(client, f"from:{bob.id}") == [other, b1]
    assert await _search(client, "to:ExampleBankHelp") == [a2]
    assert await _search(client, "to:alice") == [r1]
    assert await _search(client, "card") == [a2, r1, a1]  # words, not substrings
    assert await _search(client, "card -from:ExampleBankHelp") == [a2, a1]
    assert await _search(client, '"card is blocked"') == [a1]
    assert await _search(client, "refund OR blocked") == [b1, a1]
    assert await _search(client, "(refund OR blocked) from:bob_2") == [b1]
    assert await _search(client, "#refunds") == [b1]
    assert await _search(client, "card -(works OR DM)") == [a1]
    assert await _search(client, "@ExampleBankHelp has:hashtags") == [b1]
    assert await _search(client, "card is:quote") == []
    assert await _search(client, "refund?") == [b1]


async def test_search_paginates_with_next_token_or_pagination_token(
    client: httpx.AsyncClient, sim: Sim
) -> None:
    ids = await _mentions_posted(sim, 15)
    first = await _get(client, SEARCH, query="message")
    assert len(first["data"]) == 10
    token = first["meta"]["next_token"]
    for name in ("next_token", "pagination_token"):
        rest = await _get(client, SEARCH, query="message", **{name: token})
        assert [t["id"] for t in rest["data"]] == ids[4::-1]
        assert "next_token" not in rest["meta"]
    both = await client.get(
        SEARCH,
        params={"query": "message", "next_token": token, "pagination_token": token},
        headers=APP_BEARER,
    )
    assert both.status_code == 400


@pytest.mark.parametrize(
    "query",
    ["", "x" * 513, "is:reply", "-card", "(card", "card)", '"open', "from:", "is:nonsense", "a OR"],
)
async def test_invalid_queries_are_400(client: httpx.AsyncClient, query: str) -> None:
    response = await client.get(SEARCH, params={"query": query}, headers=APP_BEARER)
    assert response.status_code == 400
    assert "query" in response.json()["errors"][0]["parameters"]


async def test_query_is_required(client: httpx.AsyncClient) -> None:
    response = await client.get(SEARCH, headers=APP_BEARER)
    assert response.status_code == 400
