"""Unit and property tests: ids, entities, the query parser, page tokens, the CLI."""

from __future__ import annotations

from datetime import UTC, datetime
from itertools import pairwise
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from xsim import cli
from xsim.config import SimConfig
from xsim.entities import parse_entities
from xsim.ids import EPOCH_MS, SnowflakeGenerator, snowflake_time
from xsim.paging import encode_token
from xsim.query import QueryError, parse_query
from xsim.store import Store, StoreEvent, Tweet, User

# -- ids -------------------------------------------------------------------------------------


@given(st.lists(st.integers(min_value=0, max_value=2**40), min_size=1, max_size=200))
def test_ids_strictly_increase_whatever_the_clock_does(readings: list[int]) -> None:
    clock = iter(readings)
    generator = SnowflakeGenerator(clock_ms=lambda: EPOCH_MS + next(clock))
    ids = [int(generator.next_id()) for _ in readings]
    assert all(a < b for a, b in pairwise(ids))


@given(st.integers(min_value=0, max_value=50))
def test_many_ids_in_one_millisecond(count: int) -> None:
    generator = SnowflakeGenerator(clock_ms=lambda: 1_700_000_000_000)
    ids = [generator.next_id() for _ in range(count)]
    assert len(set(ids)) == count
    assert ids == sorted(ids, key=int)


def test_real_ids_are_19_digits_and_encode_their_time() -> None:
    before = datetime.now(UTC)
    snowflake = SnowflakeGenerator().next_id()
    assert len(snowflake) == 19 and snowflake.isdigit()
    assert abs((snowflake_time(snowflake) - before).total_seconds()) < 1


def test_known_snowflake_time() -> None:
    # 1301573587187331074 is a real tweet id from the contract's example.
    assert snowflake_time("1301573587187331074").year == 2020


# -- entities --------------------------------------------------------------------------------


def test_entity_offsets_are_code_points() -> None:
    text = "😀 @Alice_1 hi #Café $TSLA see https://ex.am/a?b=1. email me@host.com #123"
    entities = parse_entities(text, lambda name: "7" if name.lower() == "alice_1" else None)
    (mention,) = entities.mentions
    assert text[mention.start : mention.end] == "@Alice_1"
    assert (mention.username, mention.user_id) == ("Alice_1", "7")
    assert [h.tag for h in entities.hashtags] == ["Café"]  # "#123" is not a hashtag
    assert [c.tag for c in entities.cashtags] == ["TSLA"]
    (url,) = entities.urls
    assert url.url == "https://ex.am/a?b=1"  # trailing full stop excluded
    assert text[url.start : url.end] == url.url
    json = entities.to_json()
    assert json["urls"][0]["display_url"] == "ex.am/a?b=1"
    assert json["mentions"][0] == {"start": 2, "end": 10, "username": "Alice_1", "id": "7"}


def test_no_entities_is_an_empty_object() -> None:
    assert parse_entities("plain words", lambda _: None).to_json() == {}


def test_mentions_inside_urls_are_not_mentions() -> None:
    entities = parse_entities("https://ex.am/@someone #x", lambda _: None)
    assert entities.mentions == ()
    assert [h.tag for h in entities.hashtags] == ["x"]


# -- query -----------------------------------------------------------------------------------


def _tweet(text: str, **fields: Any) -> Tweet:
    return Tweet(
        id="5",
        author_id="1",
        text=text,
        created_at=datetime.now(UTC),
        conversation_id=fields.pop("conversation_id", "5"),
        entities=parse_entities(text, lambda _: None),
        **fields,
    )


def _names(user_id: str) -> str | None:
    return {"1": "alice", "2": "brand"}.get(user_id)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("Card", True),
        ("car", False),
        ('"my card"', True),
        ('"card my"', False),
        ("card blocked", True),
        ("card -blocked", False),
        ("nope OR blocked", True),
        ("nope OR nada", False),
        ("card (nope OR blocked)", True),
        ("-(nope OR nada) card", True),
        ("@brand", True),
        ("@alice", False),
        ("from:alice", True),
        ("from:1", True),
        ("to:brand", True),
        ("to:alice", False),
        ("card is:reply", True),
        ("card -is:reply", False),
        ("card is:retweet", False),
        ("card -is:retweet", True),
        ("conversation_id:9", True),
        ("conversation_id:5", False),
        ("card has:mentions", True),
        ("card has:links", False),
        ("card lang:en", True),
        ("#help", True),
        ("$TSLA", False),
        ("card!", True),
        ("!!!", False),
    ],
)
def test_query_matching(query: str, expected: bool) -> None:
    tweet = _tweet(
        "@brand my CARD is blocked #help",
        conversation_id="9",
        in_reply_to_tweet_id="9",
        in_reply_to_user_id="2",
    )
    assert parse_query(query).matches(tweet, _names) is expected


@pytest.mark.parametrize(
    "query",
    ["", "  ", "-x", "is:reply", "has:links OR x", "(", ")", "a (b", '"', '""', "OR", "a OR",
     "- a", "from:", "from:a-b", "conversation_id:x", "is:bogus", "has:bogus", "lang:english",
     "(((((((((((((x)))))))))))))"],
)  # fmt: skip
def test_invalid_queries(query: str) -> None:
    with pytest.raises(QueryError):
        parse_query(query)


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=80), st.text(alphabet='()-" ORis:@#$fromtoab_1', max_size=60)))
def test_parser_never_crashes(query: str) -> None:
    try:
        matcher = parse_query(query)
    except QueryError:
        return
    assert matcher.matches(_tweet("@brand hello (world) #x"), _names) in (True, False)


# -- tokens and the CLI ----------------------------------------------------------------------


def test_page_tokens_are_short_and_opaque() -> None:
    token = encode_token("1301573587187331074")
    assert token.isalnum() and token.islower() and len(token) <= 13
    assert int(token, 36) == 1301573587187331074


def test_cli_runs_uvicorn(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(cli.uvicorn, "run", lambda app, **kwargs: calls.append(kwargs))
    cli.main(["--port", "8123"])
    cli.main(["--host", "0.0.0.0", "--log-level", "debug"])
    assert calls == [
        {"host": "127.0.0.1", "port": 8123, "log_level": "info"},
        {"host": "0.0.0.0", "port": 8100, "log_level": "debug"},
    ]


def test_config_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XSIM_BRAND_USERNAME", "AcmeCare")
    monkeypatch.setenv("XSIM_REPLY_RESTRICTION", "true")
    monkeypatch.setenv("XSIM_RATE_LIMITS__POST_TWEET_USER", "7")
    config = SimConfig()
    assert config.brand_username == "AcmeCare"
    assert config.reply_restriction is True
    assert config.rate_limits.post_tweet_user == 7
    assert config.rate_limits.mentions_app == 450


# -- store events ----------------------------------------------------------------------------


async def test_store_publishes_events_in_order_and_survives_a_failing_listener(
    caplog: pytest.LogCaptureFixture,
) -> None:
    brand = User(id="1", username="brand", name="Brand", created_at=datetime.now(UTC), is_brand=True)
    store = Store(brand=brand, ids=SnowflakeGenerator())
    seen: list[tuple[str, str]] = []

    async def record(event: StoreEvent) -> None:
        seen.append((type(event).__name__, event.tweet.text))

    async def explode(event: StoreEvent) -> None:
        raise RuntimeError("listener bug")

    store.subscribe(explode)
    store.subscribe(record)
    first = await store.create_tweet(author=brand, text="one")
    await store.create_tweet(author=brand, text="two", in_reply_to_tweet_id=first.id)
    await store.delete_tweet(first)
    await store.delete_tweet(first)  # already deleted: no second event
    assert seen == [("TweetCreated", "one"), ("TweetCreated", "two"), ("TweetDeleted", "one")]
    assert caplog.text.count("listener failed") == 3
