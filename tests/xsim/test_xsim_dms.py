"""Direct Messages (contract §6): sending, reading, deleting, ``/_sim/dms`` and the DM page parts."""

from __future__ import annotations

import re
import time
from datetime import timedelta
from typing import Any

import httpx
import pytest
from xsim_support import APP_BEARER, BRAND_ID, OAuth1, Sim, SimUser

from xsim.store import DirectMessageCreated, StoreEvent, TweetCreated

HOSTILE = "<script>alert('dm')</script> & <img src=x onerror=alert(1)>"


async def dm(
    client: httpx.AsyncClient,
    auth: httpx.Auth | dict[str, str],
    path: str,
    body: Any,
    status: int = 201,
) -> dict[str, Any]:
    """POST a DM body to ``/2/dm_conversations/<path>`` and check the status."""
    url = f"/2/dm_conversations{path}"
    if isinstance(auth, httpx.Auth):
        response = await client.post(url, json=body, auth=auth)
    else:
        response = await client.post(url, json=body, headers=auth)
    assert response.status_code == status, response.text
    result: dict[str, Any] = response.json()
    return result


async def events(
    client: httpx.AsyncClient, auth: httpx.Auth | dict[str, str], path: str = "/2/dm_events", **params: Any
) -> dict[str, Any]:
    if isinstance(auth, httpx.Auth):
        response = await client.get(path, params=params, auth=auth)
    else:
        response = await client.get(path, params=params, headers=auth)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def conversation_id(*ids: str) -> str:
    low, high = sorted(ids, key=int)
    return f"{low}-{high}"


# -- sending ---------------------------------------------------------------------------------


async def test_brand_sends_a_one_to_one_dm(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    response = await client.post(
        f"/2/dm_conversations/with/{alice.id}/messages", json={"text": "Hello from the bank"}, auth=OAuth1()
    )
    assert response.status_code == 201
    data = response.json()["data"]
    assert set(data) == {"dm_conversation_id", "dm_event_id"}
    # The brand's id is the smaller one: 1500… < 21…
    assert data["dm_conversation_id"] == f"{BRAND_ID}-{alice.id}"
    assert response.headers["location"] == f"http://xsim.test/2/dm_events/{data['dm_event_id']}"
    assert response.headers["x-rate-limit-limit"] == "200"
    assert response.headers["x-rate-limit-remaining"] == "199"


async def test_ids_are_shared_with_tweets(client: httpx.AsyncClient, sim: Sim, app: Any) -> None:
    alice = await sim.user("alice")
    seen: list[StoreEvent] = []

    async def listener(event: StoreEvent) -> None:
        seen.append(event)

    app.state.sim.store.subscribe(listener)
    ids = []
    for n in range(3):
        ids.append(await sim.post(alice.auth, f"@ExampleBankHelp tweet {n}"))
        sent = await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": f"dm {n}"})
        ids.append(sent["data"]["dm_event_id"])
    assert ids == sorted(ids, key=int) and len(set(ids)) == 6
    assert [type(e) for e in seen] == [TweetCreated, DirectMessageCreated] * 3
    first_dm = seen[1]
    assert isinstance(first_dm, DirectMessageCreated)
    assert first_dm.event.id == ids[1] and first_dm.conversation.participant_ids == (BRAND_ID, alice.id)


async def test_send_into_a_conversation(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    first = await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "hi"})
    conversation = first["data"]["dm_conversation_id"]
    reply = await dm(client, OAuth1(), f"/{conversation}/messages", {"text": "hello alice"})
    assert reply["data"]["dm_conversation_id"] == conversation

    # A well-formed 1:1 id naming the caller opens that conversation.
    fresh = conversation_id(alice.id, bob.id)
    opened = await dm(client, alice.auth, f"/{fresh}/messages", {"text": "hi bob"})
    assert opened["data"]["dm_conversation_id"] == fresh

    not_mine = await dm(client, bob.auth, f"/{conversation}/messages", {"text": "let me in"}, 403)
    assert not_mine["type"].endswith("/not-authorized-for-resource")
    missing = await dm(client, alice.auth, "/123456789/messages", {"text": "?"}, 404)
    assert missing["type"].endswith("/resource-not-found") and missing["status"] == 404
    # Naming two other users does not open their conversation.
    await dm(client, alice.auth, f"/{conversation_id(BRAND_ID, bob.id)}/messages", {"text": "?"}, 404)
    bad = await dm(client, alice.auth, "/12-ab/messages", {"text": "?"}, 400)
    assert "dm_conversation_id" in bad["errors"][0]["parameters"]


async def test_group_conversations(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    carol = await sim.user("carol")
    body = {
        "conversation_type": "Group",
        "participant_ids": [alice.id, bob.id, BRAND_ID],  # the creator may be listed too
        "message": {"text": "Group hello"},
    }
    created = await dm(client, OAuth1(), "", body)
    group = created["data"]["dm_conversation_id"]
    assert re.fullmatch(r"[0-9]{19}", group)
    await dm(client, bob.auth, f"/{group}/messages", {"text": "hi all"})
    await dm(client, carol.auth, f"/{group}/messages", {"text": "me too"}, 403)

    page = await events(
        client,
        alice.auth,
        f"/2/dm_conversations/{group}/dm_events",
        **{"dm_event.fields": "participant_ids,sender_id"},
    )
    assert [e["event_type"] for e in page["data"]] == ["MessageCreate", "MessageCreate", "ParticipantsJoin"]
    join = page["data"][2]
    assert "text" not in join and set(join["participant_ids"]) == {BRAND_ID, alice.id, bob.id}
    joins = await events(client, alice.auth, event_types="ParticipantsJoin")
    assert [e["id"] for e in joins["data"]] == [join["id"]]
    creates = await events(client, alice.auth, event_types="MessageCreate,ParticipantsLeave")
    assert len(creates["data"]) == 2
    assert (await client.get(f"/2/dm_conversations/{group}/dm_events", headers=carol.auth)).status_code == 403


@pytest.mark.parametrize(
    "body",
    [
        {"conversation_type": "Group", "participant_ids": ["1"], "message": {"text": "x"}},
        {"conversation_type": "OneToOne", "participant_ids": ["1", "2"], "message": {"text": "x"}},
        {"conversation_type": "Group", "participant_ids": ["1", "2"], "message": {}},
        {"conversation_type": "Group", "participant_ids": ["1", "x"], "message": {"text": "x"}},
        {
            "conversation_type": "Group",
            "participant_ids": [str(n) for n in range(50)],
            "message": {"text": "x"},
        },
        {"participant_ids": ["1", "2"], "message": {"text": "x"}},
    ],
)
async def test_group_body_validation(client: httpx.AsyncClient, body: dict[str, Any]) -> None:
    response = await client.post("/2/dm_conversations", json=body, auth=OAuth1())
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


async def test_group_with_an_unknown_participant(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    body = {"conversation_type": "Group", "participant_ids": [alice.id, "42"], "message": {"text": "x"}}
    response = await dm(client, OAuth1(), "", body, 404)
    assert response["resource_id"] == "42"


@pytest.mark.parametrize(
    ("content", "fragment"),
    [
        (b"", "non-blank"),
        (b"{}", "non-blank"),
        (b'{"text": "   "}', "non-blank"),
        (b'{"text": ""}', "non-blank"),
        (b"{", "not valid JSON"),
        (b"[1]", ""),
        (b'{"text": 5}', "$.text"),
        (b'{"text": "hi", "quick_reply": {}}', "quick_reply"),
        (b'{"attachments": [{"media_id": "1"}, {"media_id": "2"}]}', "$.attachments"),
        (b'{"attachments": [{"media_id": "abc"}]}', "media_id"),
        (b'{"attachments": [{"media_id": "1", "type": "x"}]}', "type"),
        (b'{"attachments": []}', "non-blank"),
        (b"\xff\xfe\x00", ""),
    ],
)
async def test_malformed_dm_bodies(
    client: httpx.AsyncClient, sim: Sim, content: bytes, fragment: str
) -> None:
    alice = await sim.user("alice")
    response = await client.post(
        f"/2/dm_conversations/with/{alice.id}/messages",
        content=content,
        headers={"content-type": "application/json"},
        auth=OAuth1(),
    )
    assert response.status_code == 400, response.text
    assert fragment in response.json()["errors"][0]["message"]


async def test_text_length_and_attachments(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    path = f"/with/{alice.id}/messages"
    await dm(client, OAuth1(), path, {"text": "é" * 10_000})
    # NFC: "e" + combining accent counts once.
    await dm(client, OAuth1(), path, {"text": "e\u0301" * 10_000})
    too_long = await dm(client, OAuth1(), path, {"text": "x" * 10_001}, 400)
    assert "10001 characters" in too_long["errors"][0]["message"]
    photo = await dm(client, OAuth1(), path, {"attachments": [{"media_id": "1583100000000000000"}]})
    both = await dm(client, OAuth1(), path, {"text": "see this", "attachments": [{"media_id": "77"}]})
    page = await events(client, alice.auth, **{"dm_event.fields": "attachments"})
    by_id = {e["id"]: e for e in page["data"]}
    assert by_id[photo["data"]["dm_event_id"]]["attachments"] == {"media_keys": ["3_1583100000000000000"]}
    assert by_id[photo["data"]["dm_event_id"]]["text"] == ""
    assert by_id[both["data"]["dm_event_id"]]["attachments"] == {"media_keys": ["3_77"]}


async def test_oversized_body(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    response = await client.post(
        f"/2/dm_conversations/with/{alice.id}/messages", json={"text": "x" * 70_000}, auth=OAuth1()
    )
    assert response.status_code == 413


async def test_unknown_participant_and_self(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    missing = await dm(client, OAuth1(), "/with/123456/messages", {"text": "hi"}, 404)
    assert missing == {
        "value": "123456",
        "detail": "Could not find user with participant_id: [123456].",
        "title": "Not Found Error",
        "resource_type": "user",
        "parameter": "participant_id",
        "resource_id": "123456",
        "type": "https://api.twitter.com/2/problems/resource-not-found",
        "status": 404,
    }
    self_dm = await dm(client, alice.auth, f"/with/{alice.id}/messages", {"text": "me"}, 400)
    assert "yourself" in self_dm["errors"][0]["message"]
    bad_id = await dm(client, alice.auth, "/with/abc/messages", {"text": "hi"}, 400)
    assert "participant_id" in bad_id["errors"][0]["parameters"]


async def test_recipients_who_do_not_accept_dms(client: httpx.AsyncClient, sim: Sim) -> None:
    closed = await client.post("/_sim/users", json={"username": "quiet", "accepts_dms": False})
    quiet = SimUser(closed.json()["id"], "quiet", closed.json()["access_token"])
    alice = await sim.user("alice")
    refused = await dm(client, OAuth1(), f"/with/{quiet.id}/messages", {"text": "hello"}, 403)
    assert refused == {
        "title": "Forbidden",
        "type": "about:blank",
        "status": 403,
        "detail": "You cannot send messages to this user.",
    }
    # Once quiet writes to the brand, the brand may answer in that conversation.
    await dm(client, quiet.auth, f"/with/{BRAND_ID}/messages", {"text": "help"})
    await dm(client, OAuth1(), f"/with/{quiet.id}/messages", {"text": "we are here"})
    await dm(client, alice.auth, f"/with/{quiet.id}/messages", {"text": "hi stranger"}, 403)

    # The switch can change at runtime, the brand's too.
    patched = await client.patch("/_sim/users/alice", json={"accepts_dms": False})
    assert patched.json() == {
        "id": alice.id,
        "username": "alice",
        "name": "alice",
        "is_brand": False,
        "accepts_dms": False,
        "followers_count": 0,
        "verified": False,
    }
    assert (await client.get("/_sim/users/alice")).json()["accepts_dms"] is False
    await dm(client, OAuth1(), f"/with/{alice.id}/messages", {"text": "hello?"}, 403)
    await client.patch("/_sim/users/ExampleBankHelp", json={"accepts_dms": False})
    await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "hi"}, 403)
    assert (await client.patch("/_sim/users/nobody", json={"accepts_dms": True})).status_code == 404
    assert (await client.patch("/_sim/users/alice", json={"accepts_dms": "no"})).status_code == 400
    assert (await client.patch("/_sim/users/alice", json={})).status_code == 400
    await client.post("/_sim/reset")
    assert (await client.get("/_sim/users/ExampleBankHelp")).json()["accepts_dms"] is True


async def test_auth_rules(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    calls = [
        ("POST", f"/2/dm_conversations/with/{alice.id}/messages"),
        ("POST", f"/2/dm_conversations/{BRAND_ID}-{alice.id}/messages"),
        ("POST", "/2/dm_conversations"),
        ("GET", "/2/dm_events"),
        ("GET", "/2/dm_events/123"),
        ("GET", f"/2/dm_conversations/with/{alice.id}/dm_events"),
        ("GET", f"/2/dm_conversations/{BRAND_ID}-{alice.id}/dm_events"),
        ("DELETE", "/2/dm_events/123"),
    ]
    for method, path in calls:
        app_only = await client.request(method, path, headers=APP_BEARER, json={"text": "x"})
        assert app_only.status_code == 403, (method, path)
        assert app_only.json()["type"].endswith("/unsupported-authentication")
        assert (await client.request(method, path, json={"text": "x"})).status_code == 401
        bad_sig = await client.request(method, path, json={"text": "x"}, auth=OAuth1(client_secret="wrong"))
        assert bad_sig.status_code == 401


async def test_rate_limits(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.configure(rate_limits={"dm_send_user": 1, "dm_read_user": 2})
    alice = await sim.user("alice")
    await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "one"})
    limited = await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "two"}, 429)
    assert limited["title"] == "Too Many Requests"
    # Counted per user: the brand still has its own quota.
    await dm(client, OAuth1(), f"/with/{alice.id}/messages", {"text": "three"})
    for _ in range(2):
        await events(client, alice.auth)
    reading = await client.get("/2/dm_events", headers=alice.auth)
    assert reading.status_code == 429 and reading.headers["x-rate-limit-remaining"] == "0"


# -- reading ---------------------------------------------------------------------------------


async def test_listing_shape_and_expansions(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice", "Alice A.")
    sent = await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "Hi @ExampleBankHelp #help"})
    answer = await dm(client, OAuth1(), f"/with/{alice.id}/messages", {"text": "Hi Alice"})
    conversation = sent["data"]["dm_conversation_id"]

    plain = await events(client, OAuth1())
    assert plain == {
        "data": [
            {"id": answer["data"]["dm_event_id"], "event_type": "MessageCreate", "text": "Hi Alice"},
            {
                "id": sent["data"]["dm_event_id"],
                "event_type": "MessageCreate",
                "text": "Hi @ExampleBankHelp #help",
            },
        ],
        "meta": {"result_count": 2},
    }
    full = await events(
        client,
        OAuth1(),
        **{
            "dm_event.fields": "id,text,event_type,created_at,dm_conversation_id,sender_id,participant_ids,"
            "referenced_tweets,attachments,entities",
            "expansions": "sender_id,participant_ids",
            "user.fields": "created_at,verified",
            "max_results": "1",
        },
    )
    (event,) = full["data"]
    assert event["sender_id"] == BRAND_ID and event["dm_conversation_id"] == conversation
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", event["created_at"])
    assert "participant_ids" not in event and "attachments" not in event and "entities" not in event
    assert full["includes"]["users"][0]["id"] == BRAND_ID
    assert set(full["includes"]["users"][0]) == {"id", "name", "username", "created_at", "verified"}
    assert "next_token" in full["meta"]

    older = await events(
        client,
        OAuth1(),
        **{
            "dm_event.fields": "entities,sender_id",
            "expansions": "sender_id",
            "pagination_token": full["meta"]["next_token"],
        },
    )
    (first,) = older["data"]
    assert first["entities"]["mentions"][0] == {
        "start": 3,
        "end": 19,
        "username": "ExampleBankHelp",
        "id": BRAND_ID,
    }
    assert first["entities"]["hashtags"] == [{"start": 20, "end": 25, "tag": "help"}]
    assert older["includes"]["users"] == [{"id": alice.id, "name": "Alice A.", "username": "alice"}]
    assert older["meta"] == {"result_count": 1}


async def test_paging(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    sent = [
        (await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": f"m{n}"}))["data"]["dm_event_id"]
        for n in range(7)
    ]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        params = {"max_results": "3"} | ({"pagination_token": token} if token else {})
        page = await events(client, OAuth1(), f"/2/dm_conversations/with/{alice.id}/dm_events", **params)
        seen += [e["id"] for e in page["data"]]
        pages += 1
        token = page["meta"].get("next_token")
        if token is None:
            break
    assert seen == list(reversed(sent)) and pages == 3
    default = await events(client, OAuth1())
    assert default["meta"]["result_count"] == 7  # max_results defaults to 100


@pytest.mark.parametrize(
    "params",
    [
        {"max_results": "0"},
        {"max_results": "101"},
        {"max_results": "ten"},
        {"pagination_token": "not a token!"},
        {"event_types": "MessageCreate,Typing"},
        {"dm_event.fields": "id,mood"},
        {"expansions": "author_id"},
        {"user.fields": "password"},
        {"since_id": "1"},
        {"unknown": "1"},
    ],
)
async def test_bad_read_parameters(client: httpx.AsyncClient, params: dict[str, str]) -> None:
    response = await client.get("/2/dm_events", params=params, auth=OAuth1())
    assert response.status_code == 400
    assert response.json()["title"] == "Invalid Request"


async def test_only_my_conversations(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    to_alice = await dm(client, OAuth1(), f"/with/{alice.id}/messages", {"text": "for alice"})
    await dm(client, OAuth1(), f"/with/{bob.id}/messages", {"text": "for bob"})
    mine = await events(client, alice.auth)
    assert [e["text"] for e in mine["data"]] == ["for alice"]
    assert len((await events(client, OAuth1()))["data"]) == 2
    with_brand = await events(client, bob.auth, f"/2/dm_conversations/with/{BRAND_ID}/dm_events")
    assert [e["text"] for e in with_brand["data"]] == ["for bob"]
    nothing = await events(client, bob.auth, f"/2/dm_conversations/with/{alice.id}/dm_events")
    assert nothing == {"meta": {"result_count": 0}}
    unknown = await client.get("/2/dm_conversations/with/987654/dm_events", headers=bob.auth)
    assert unknown.status_code == 404
    foreign = await client.get(
        f"/2/dm_conversations/{to_alice['data']['dm_conversation_id']}/dm_events", headers=bob.auth
    )
    assert foreign.status_code == 403
    missing = await client.get("/2/dm_conversations/1-2/dm_events", headers=bob.auth)
    assert missing.status_code == 404
    malformed = await client.get("/2/dm_conversations/1-2-3/dm_events", headers=bob.auth)
    assert malformed.status_code == 400
    event_id = to_alice["data"]["dm_event_id"]
    looked_up = await client.get(f"/2/dm_events/{event_id}", headers=alice.auth)
    assert looked_up.json() == {"data": {"id": event_id, "event_type": "MessageCreate", "text": "for alice"}}
    hidden = await client.get(f"/2/dm_events/{event_id}", headers=bob.auth)
    assert hidden.status_code == 200 and hidden.json()["errors"][0]["title"] == "Not Found Error"


async def test_thirty_day_window(client: httpx.AsyncClient, sim: Sim, app: Any) -> None:
    alice = await sim.user("alice")
    await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "old news"})
    assert len((await events(client, OAuth1()))["data"]) == 1
    later = time.time() + timedelta(days=30, minutes=1).total_seconds()
    app.state.sim.clock = lambda: later
    assert await events(client, alice.auth) == {"meta": {"result_count": 0}}


async def test_referenced_tweets(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    tweet = await sim.post(alice.auth, "@ExampleBankHelp public complaint")
    gone = await sim.post(alice.auth, "@ExampleBankHelp deleted later")
    text = f"about https://x.com/alice/status/{tweet} and https://twitter.com/alice/status/{gone}?s=20 and https://x.com/alice/status/1"
    await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": text})
    await client.delete(f"/2/tweets/{gone}", headers=alice.auth)
    page = await events(
        client,
        OAuth1(),
        **{
            "dm_event.fields": "referenced_tweets",
            "expansions": "referenced_tweets.id",
            "tweet.fields": "author_id",
        },
    )
    (event,) = page["data"]
    assert event["referenced_tweets"] == [{"id": tweet}, {"id": gone}]  # 1 never existed
    assert page["includes"]["tweets"] == [
        {
            "id": tweet,
            "text": "@ExampleBankHelp public complaint",
            "edit_history_tweet_ids": [tweet],
            "author_id": alice.id,
        }
    ]
    assert page["errors"][0]["resource_id"] == gone


async def test_delete(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    mine = (await dm(client, alice.auth, f"/with/{BRAND_ID}/messages", {"text": "oops, my PIN is 1234"}))[
        "data"
    ]
    reply = (await dm(client, OAuth1(), f"/with/{alice.id}/messages", {"text": "Please delete that"}))["data"]

    not_sender = await client.delete(f"/2/dm_events/{mine['dm_event_id']}", auth=OAuth1())
    assert not_sender.status_code == 403
    outsider = await client.delete(f"/2/dm_events/{mine['dm_event_id']}", headers=bob.auth)
    assert outsider.status_code == 200 and outsider.json()["errors"][0]["resource_type"] == "dm_event"
    deleted = await client.delete(f"/2/dm_events/{mine['dm_event_id']}", headers=alice.auth)
    assert deleted.json() == {"data": {"deleted": True}}
    again = await client.delete(f"/2/dm_events/{mine['dm_event_id']}", headers=alice.auth)
    assert again.json()["errors"][0]["title"] == "Not Found Error"
    assert (await client.delete("/2/dm_events/abc", headers=alice.auth)).status_code == 400

    texts = [e["text"] for e in (await events(client, OAuth1()))["data"]]
    assert texts == ["Please delete that"]
    records = (await client.get("/_sim/dms", params={"participant": "alice"})).json()["dm_events"]
    assert [(r["id"], r["deleted"]) for r in records] == [
        (mine["dm_event_id"], True),
        (reply["dm_event_id"], False),
    ]


# -- /_sim/dms -------------------------------------------------------------------------------


async def test_sim_dms(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    bob = await sim.user("bob")
    to_brand = await client.post("/_sim/dms", json={"from_username": "alice", "text": "hi brand"})
    assert to_brand.status_code == 201
    assert to_brand.json()["data"]["dm_conversation_id"] == conversation_id(alice.id, BRAND_ID)
    by_id = await client.post(
        "/_sim/dms", json={"sender_id": bob.id, "recipient_id": alice.id, "text": "hi alice"}
    )
    assert by_id.status_code == 201
    by_name = await client.post(
        "/_sim/dms", json={"from_username": "ExampleBankHelp", "to_username": "bob", "text": "hi bob"}
    )
    assert by_name.status_code == 201
    await client.post("/_sim/dms", json={"from_username": "bob", "to_user_id": BRAND_ID, "text": "bob here"})

    everything = (await client.get("/_sim/dms")).json()["dm_events"]
    assert [e["text"] for e in everything] == ["hi brand", "hi alice", "hi bob", "bob here"]
    first = everything[0]
    assert first["sender_id"] == alice.id and first["sender_username"] == "alice"
    assert first["participant_ids"] == [BRAND_ID, alice.id]
    assert (
        first["source_app_id"] is None
        and first["deleted"] is False
        and first["event_type"] == "MessageCreate"
    )

    async def texts(**params: str) -> list[str]:
        return [e["text"] for e in (await client.get("/_sim/dms", params=params)).json()["dm_events"]]

    assert await texts(participant="alice") == ["hi brand", "hi alice"]
    assert await texts(participant=bob.id) == ["hi alice", "hi bob", "bob here"]
    assert await texts(participant="nobody") == []
    assert await texts(conversation_id=conversation_id(bob.id, BRAND_ID)) == ["hi bob", "bob here"]
    assert (await client.get("/_sim/dms", params={"conversation_id": "x-1"})).status_code == 400


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"text": "no sender"}, 400),
        ({"from_username": "alice", "sender_id": "1", "text": "two senders"}, 400),
        ({"from_username": "alice", "to_user_id": "1", "to_username": "bob", "text": "two recipients"}, 400),
        ({"from_username": "alice"}, 400),
        ({"from_username": "alice", "text": "   "}, 400),
        ({"from_username": "alice", "text": "x" * 10_001}, 400),
        ({"from_username": "alice", "text": "hi", "extra": True}, 400),
        ({"from_username": "ghost", "text": "hi"}, 404),
        ({"from_username": "alice", "to_username": "ghost", "text": "hi"}, 404),
        ({"from_username": "alice", "to_user_id": "42", "text": "hi"}, 404),
        ({"from_username": "alice", "to_username": "alice", "text": "hi"}, 400),
    ],
)
async def test_sim_dm_validation(
    client: httpx.AsyncClient, sim: Sim, body: dict[str, Any], status: int
) -> None:
    await sim.user("alice")
    response = await client.post("/_sim/dms", json=body)
    assert response.status_code == status, response.text


# -- the customer page -------------------------------------------------------------------------


async def test_page_has_the_dm_box_and_thread(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    await client.post("/_sim/dms", json={"from_username": "alice", "text": HOSTILE})
    answer = await dm(client, OAuth1(), f"/with/{alice.id}/messages", {"text": "</p><script>x()</script>"})
    await client.post(
        "/_sim/dms", json={"from_username": "ExampleBankHelp", "to_username": "bob", "text": "hi"}
    )

    html = (await client.get("/", params={"user": "alice"})).text
    for element_id in ("dm-form", "dm-text", "dm-count", "dm-send", "dms"):
        assert f'id="{element_id}"' in html
    assert "Message @ExampleBankHelp privately" in html
    assert "<script>alert" not in html and "<script>x()" not in html
    assert "&lt;script&gt;alert(&#39;dm&#39;)&lt;/script&gt; &amp; &lt;img src=x" in html
    assert "&lt;/p&gt;&lt;script&gt;x()&lt;/script&gt;" in html
    scripts = re.findall(r"<script[^>]*>(.*?)</script>", html, flags=re.S)
    assert scripts == [""]

    fragment = (await client.get("/ui/dms", params={"user": "alice"})).text
    items = re.findall(r'<li class="dm( from-brand)?"\s+data-dm-id="(\d+)" data-sender="(\w+)"', fragment)
    assert [(bool(b), sender) for b, _, sender in items] == [(False, "alice"), (True, "ExampleBankHelp")]
    assert items[1][1] == answer["data"]["dm_event_id"]
    assert "hi" not in re.findall(r'<p class="text">(.*?)</p>', fragment)  # bob's DM is not alice's


async def test_dm_fragment_states(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    empty = await client.get("/ui/dms", params={"user": "alice"})
    assert 'id="no-dms"' in empty.text
    sent = await client.post("/_sim/dms", json={"from_username": "alice", "text": "secret 1234"})
    await client.delete(f"/2/dm_events/{sent.json()['data']['dm_event_id']}", headers=alice.auth)
    tomb = (await client.get("/ui/dms", params={"user": "alice"})).text
    assert "secret 1234" not in tomb and "This message was deleted." in tomb
    assert (await client.get("/ui/dms", params={"user": "ghost"})).status_code == 404
    assert (await client.get("/ui/dms", params={"user": "ExampleBankHelp"})).status_code == 404


async def test_ui_dm(client: httpx.AsyncClient, sim: Sim) -> None:
    alice = await sim.user("alice")
    response = await client.post("/ui/dm", json={"username": "alice", "text": "from the page"})
    assert response.status_code == 201
    assert response.json()["data"]["dm_conversation_id"] == conversation_id(alice.id, BRAND_ID)
    listed = await events(client, OAuth1(), **{"dm_event.fields": "sender_id"})
    assert listed["data"][0]["text"] == "from the page" and listed["data"][0]["sender_id"] == alice.id
    assert (await client.post("/ui/dm", json={"username": "alice", "text": " "})).status_code == 400
    assert (
        await client.post("/ui/dm", json={"username": "ExampleBankHelp", "text": "hi"})
    ).status_code == 404
    await client.patch("/_sim/users/ExampleBankHelp", json={"accepts_dms": False})
    closed = await client.post("/ui/dm", json={"username": "alice", "text": "closed?"})
    assert closed.status_code == 403 and closed.json()["detail"] == "You cannot send messages to this user."


async def test_ui_dm_needs_json(client: httpx.AsyncClient, sim: Sim) -> None:
    await sim.user("alice")
    response = await client.post(
        "/ui/dm",
        content="username=alice&text=hi",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )
    assert response.status_code == 400
