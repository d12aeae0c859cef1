"""Parsing X payloads: hostile, malformed and odd input is refused with a reason, never a crash."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.channels.x.client import XClient, XCredentials
from haven.channels.x.events import parse_stored_event
from haven.channels.x.parse import (
    MAX_FOLLOWERS,
    RAW_FORMAT,
    MalformedPayload,
    parse_tweet_event,
    split_dm_page,
    split_page,
)
from haven.models import Visibility
from xsim.app import create_app
from xsim.config import SimConfig

BRAND = "2244994945"

PAGE = {
    "data": [
        {
            "id": "1301573587187331074",
            "text": "@brand my order is late",
            "author_id": "1234567890",
            "created_at": "2024-01-15T10:30:00.000Z",
            "conversation_id": "1301573500000000000",
            "in_reply_to_user_id": BRAND,
            "edit_history_tweet_ids": ["1301573587187331074"],
            "referenced_tweets": [{"type": "replied_to", "id": "1301573500000000000"}],
            "entities": {"mentions": [{"start": 0, "end": 6, "username": "brand", "id": BRAND}]},
            "some_future_field": {"nested": True},
        }
    ],
    "includes": {"users": [{"id": "1234567890", "name": "Dev Person", "username": "developer"}]},
    "meta": {
        "newest_id": "1301573587187331074",
        "oldest_id": "1301573587187331074",
        "result_count": 1,
        "next_token": "7140dibdnow9c7btw423i3sy3u5zupmkcpofxcsmxj48j",
    },
}


def test_the_contracts_mentions_page_parses() -> None:
    page = split_page(PAGE)
    assert page.newest_id == "1301573587187331074"
    assert page.next_token == "7140dibdnow9c7btw423i3sy3u5zupmkcpofxcsmxj48j"
    [event] = page.events
    post = parse_tweet_event(event.payload, brand_user_id=BRAND)
    assert post.external_id == "1301573587187331074"
    assert post.thread_key == "1301573500000000000"
    assert post.in_reply_to_external_id == "1301573500000000000"
    assert post.author.handle == "developer" and post.author.display_name == "Dev Person"
    assert post.visibility is Visibility.PUBLIC
    assert post.created_at.tzinfo is not None
    assert post.ignore_reason is None


def test_empty_page_shape() -> None:
    page = split_page({"meta": {"result_count": 0}})
    assert page.events == [] and page.newest_id is None and page.next_token is None


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"data": "nope"},
        {"data": [None, 3, "x"]},
        {"meta": "x", "includes": []},
        {"data": [{"id": 12345}]},
        {"data": [{"id": "1" * 25}]},
        {"data": [{"id": "12; DROP TABLE"}]},
    ],
)
def test_pages_with_junk_items_keep_them_marked(body: dict[str, object]) -> None:
    page = split_page(body)
    for event in page.events:
        assert event.external_id.startswith("invalid:") and event.error


def test_a_tweet_without_its_author_in_includes_still_parses() -> None:
    tweet = dict(PAGE["data"][0])  # type: ignore[index]
    page = split_page({"data": [tweet]})
    post = parse_tweet_event(page.events[0].payload, brand_user_id=BRAND)
    assert post.author.handle == "1234567890"


def _payload(**tweet_changes: object) -> str:
    tweet = {**PAGE["data"][0], **tweet_changes}  # type: ignore[index]
    author = {"id": tweet["author_id"], "username": "someone", "name": "Some One"}
    return json.dumps({"format": RAW_FORMAT, "tweet": tweet, "author": author})


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"id": 1301573587187331074}, "id"),
        ({"text": None}, "text"),
        ({"text": "x" * 25_001}, "text"),
        ({"created_at": "yesterday"}, "created_at"),
        ({"created_at": "2024-01-15T10:30:00"}, "created_at"),
        ({"author_id": "abc"}, "author_id"),
        ({"referenced_tweets": [{"type": "liked", "id": "1"}]}, "referenced_tweets"),
        ({"referenced_tweets": [{"type": "quoted", "id": "1"}] * 11}, "referenced_tweets"),
    ],
)
def test_malformed_tweets_are_refused_with_the_field_named(changes: dict[str, object], reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        parse_tweet_event(_payload(**changes), brand_user_id=BRAND)


def test_reasons_never_echo_the_content() -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_tweet_event(_payload(text="SECRET 4111111111111111" * 2000), brand_user_id=BRAND)
    assert "SECRET" not in str(caught.value) and "4111" not in str(caught.value)


def test_brand_echo_and_retweet_are_marked_ignored() -> None:
    own = parse_tweet_event(_payload(author_id=BRAND), brand_user_id=BRAND)
    assert own.ignore_reason == "the brand's own post"
    retweet = parse_tweet_event(
        _payload(referenced_tweets=[{"type": "retweeted", "id": "5"}]), brand_user_id=BRAND
    )
    assert retweet.ignore_reason == "a retweet"
    quote = parse_tweet_event(
        _payload(referenced_tweets=[{"type": "quoted", "id": "5"}]), brand_user_id=BRAND
    )
    assert quote.ignore_reason is None


def test_hostile_text_is_kept_verbatim_for_escaping_at_render_time() -> None:
    text = "<script>alert(1)</script>\u202e\u0000 ☃"
    assert parse_tweet_event(_payload(text=text), brand_user_id=BRAND).text == text


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


@settings(max_examples=300)
@given(JSON)
def test_any_json_page_splits_without_raising(body: object) -> None:
    page = split_page(body if isinstance(body, dict) else {"data": body})
    for event in page.events:
        assert event.error or event.external_id.isdigit()


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(max_size=200),
        JSON.map(json.dumps),
        st.fixed_dictionaries({"format": st.just(RAW_FORMAT), "tweet": JSON, "author": JSON}).map(json.dumps),
    )
)
def test_any_stored_payload_parses_or_is_refused_cleanly(payload: str) -> None:
    try:
        post = parse_tweet_event(payload, brand_user_id=BRAND)
    except MalformedPayload as refused:
        assert str(refused)
    else:
        assert post.external_id.isdigit() and post.author.external_id.isdigit()


# --- audience and language: hints for triage, never a reason to refuse a post ----------------------


def _with_audience(author: dict[str, object] | None = None, **tweet_changes: object) -> str:
    tweet = {**PAGE["data"][0], **tweet_changes}  # type: ignore[index]
    user = {"id": tweet["author_id"], "username": "someone", "name": "Some One", **(author or {})}
    return json.dumps({"format": RAW_FORMAT, "tweet": tweet, "author": user})


def test_followers_verified_and_lang_come_from_the_author_and_the_tweet() -> None:
    metrics = {"followers_count": 184_000, "following_count": 12, "tweet_count": 900, "listed_count": 3}
    post = parse_tweet_event(
        _with_audience({"verified": True, "public_metrics": metrics}, lang="pt-BR"), brand_user_id=BRAND
    )
    assert (post.author.followers, post.author.verified, post.lang) == (184_000, True, "pt-BR")


def test_events_stored_without_the_fields_parse_with_defaults() -> None:
    # Stored before Haven asked for them (and what X sends when a field is not requested).
    [event] = split_page(PAGE).events
    post = parse_tweet_event(event.payload, brand_user_id=BRAND)
    assert (post.author.followers, post.author.verified, post.lang) == (0, False, None)
    # No author at all: the id stands in, with no audience.
    [no_author] = split_page({"data": [PAGE["data"][0]]}).events  # type: ignore[index]
    bare = parse_tweet_event(no_author.payload, brand_user_id=BRAND)
    assert (bare.author.followers, bare.author.verified) == (0, False)


@pytest.mark.parametrize(
    ("metrics", "followers"),
    [
        ({"followers_count": 0}, 0),
        ({"followers_count": 1234}, 1234),
        ({"followers_count": -5}, 0),
        ({"followers_count": "1000"}, 0),
        ({"followers_count": "lots"}, 0),
        ({"followers_count": 12.9}, 12),
        ({"followers_count": 1e30}, MAX_FOLLOWERS),
        ({"followers_count": 10**40}, MAX_FOLLOWERS),
        ({"followers_count": float("nan")}, 0),
        ({"followers_count": float("inf")}, 0),
        ({"followers_count": float("-inf")}, 0),
        ({"followers_count": True}, 0),
        ({"followers_count": None}, 0),
        ({"followers_count": [1, 2]}, 0),
        ({"followers_count": {"$gt": 1}}, 0),
        ({}, 0),
        ("lots", 0),
        ([{"followers_count": 5}], 0),
        (None, 0),
        (7, 0),
    ],
)
def test_hostile_follower_counts_are_clamped_or_ignored(metrics: object, followers: int) -> None:
    post = parse_tweet_event(_with_audience({"public_metrics": metrics}), brand_user_id=BRAND)
    assert post.author.followers == followers and post.ignore_reason is None


@pytest.mark.parametrize("verified", ["true", "True", 1, 1.0, {"badge": True}, [True], None, False, "yes"])
def test_only_a_json_true_is_verified(verified: object) -> None:
    post = parse_tweet_event(_with_audience({"verified": verified}), brand_user_id=BRAND)
    assert post.author.verified is False


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "en"),
        ("fil", "fil"),
        ("zh-Hant", "zh-Hant"),
        ("en-gb", "en-gb"),
        ("und", None),
        ("qme", None),
        ("zxx", None),
        ("EN", None),
        ("english", None),
        ("e", None),
        ("en\n", None),
        ("en-", None),
        ("en_GB", None),
        ("en-GB-oxendict", None),
        ("ен", None),
        ("", None),
        ("x" * 10_000, None),
        (5, None),
        (None, None),
        (["en"], None),
        ({"code": "en"}, None),
    ],
)
def test_lang_is_a_short_code_or_none(lang: object, expected: str | None) -> None:
    post = parse_tweet_event(_with_audience(lang=lang), brand_user_id=BRAND)
    assert post.lang == expected


def test_dm_senders_carry_their_audience() -> None:
    event = {
        "id": "1582838499983564806",
        "event_type": "MessageCreate",
        "text": "Hi",
        "sender_id": "944480690",
        "dm_conversation_id": f"944480690-{BRAND}",
        "created_at": "2022-10-19T20:58:00.000Z",
    }
    sender = {
        "id": "944480690",
        "name": "Carla",
        "username": "carla",
        "verified": True,
        "public_metrics": {"followers_count": 9_000},
    }
    [raw] = split_dm_page({"data": [event], "includes": {"users": [sender]}}).events
    post = parse_stored_event(raw.payload, brand_user_id=BRAND)
    assert (post.author.followers, post.author.verified, post.lang) == (9_000, True, None)
    junk = {**sender, "verified": "1", "public_metrics": {"followers_count": -1e30}}
    [raw] = split_dm_page({"data": [event], "includes": {"users": [junk]}}).events
    post = parse_stored_event(raw.payload, brand_user_id=BRAND)
    assert (post.author.followers, post.author.verified) == (0, False)
    [raw] = split_dm_page({"data": [event]}).events
    assert parse_stored_event(raw.payload, brand_user_id=BRAND).author.followers == 0


@settings(max_examples=300)
@given(
    verified=JSON,
    metrics=JSON | st.floats() | st.fixed_dictionaries({"followers_count": JSON | st.floats()}),
    lang=JSON,
)
def test_any_audience_or_lang_parses(verified: object, metrics: object, lang: object) -> None:
    post = parse_tweet_event(
        _with_audience({"verified": verified, "public_metrics": metrics}, lang=lang), brand_user_id=BRAND
    )
    assert 0 <= post.author.followers <= MAX_FOLLOWERS
    assert post.author.verified is (verified is True)
    assert post.lang is None or (isinstance(post.lang, str) and len(post.lang) <= 8)


# --- through the client, against xsim --------------------------------------------------------------


async def test_what_haven_asks_xsim_for_lands_on_the_post() -> None:
    """The fields Haven requests are the ones xsim renders and the parsers read, on every path."""
    config = SimConfig()
    transport = httpx.ASGITransport(app=create_app(config))
    credentials = XCredentials(
        consumer_key=config.consumer_key,
        consumer_secret=config.consumer_secret,
        access_token=config.brand_access_token,
        access_token_secret=config.brand_access_token_secret,
        bearer_token=config.app_bearer_token,
    )
    brand = config.brand_user_id
    async with httpx.AsyncClient(transport=transport, base_url="http://xsim.test") as sim:
        made = await sim.post(
            "/_sim/users", json={"username": "carla", "followers_count": 184_000, "verified": True}
        )
        carla = made.json()
        posted = await sim.post(
            "/ui/tweet", json={"username": "carla", "text": "@ExampleBankHelp mi tarjeta", "lang": "es"}
        )
        assert posted.status_code == 201
        await sim.post("/_sim/dms", json={"from_username": "carla", "text": "hola"})
        client = XClient("http://xsim.test", credentials, transport=transport)
        try:
            mentions = split_page(await client.mentions(brand))
            found = split_page(await client.search_recent("@ExampleBankHelp"))
            dms = split_dm_page(await client.dm_events())
        finally:
            await client.aclose()
    posts = [
        parse_stored_event(event.payload, brand_user_id=brand)
        for event in (*mentions.events, *found.events, *dms.events)
    ]
    assert len(posts) == 3
    for post in posts:
        assert post.author.external_id == carla["id"]
        assert (post.author.followers, post.author.verified) == (184_000, True)
    assert [post.lang for post in posts] == ["es", "es", None]
