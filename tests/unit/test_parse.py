"""Parsing X payloads: hostile, malformed and odd input is refused with a reason, never a crash."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.channels.x.parse import RAW_FORMAT, MalformedPayload, parse_tweet_event, split_page
from haven.models import Visibility

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
