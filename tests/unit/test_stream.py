"""The filtered-stream consumer's pure parts: backoff, rules, line parsing and line splitting."""

from __future__ import annotations

import itertools
import json
from collections.abc import AsyncIterator

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.channels.x.client import XClient, XCredentials
from haven.channels.x.parse import RAW_FORMAT, parse_tweet_event
from haven.channels.x.stream import (
    KEEP_ALIVE,
    Backoff,
    Rule,
    StreamAccount,
    StreamBroken,
    StreamedInvalid,
    StreamedPost,
    StreamNotice,
    account_id_of_tag,
    desired_rules,
    parse_line,
    plan_rules,
    split_lines,
)

BRAND = "2244994945"
TWEET = {
    "id": "1301573587187331074",
    "text": "@ExampleBankHelp my card was swallowed",
    "author_id": "1234567890",
    "created_at": "2024-01-15T10:30:00.000Z",
    "conversation_id": "1301573587187331074",
    "edit_history_tweet_ids": ["1301573587187331074"],
}
USER = {"id": "1234567890", "name": "Dev Person", "username": "developer"}


def _line(body: object) -> bytes:
    return json.dumps(body).encode() + b"\r\n"


# --- Backoff ---------------------------------------------------------------------------------------


def test_network_errors_back_off_linearly_by_250_ms_up_to_16_s() -> None:
    backoff = Backoff()
    delays = [backoff.network_error() for _ in range(70)]
    assert delays[:4] == [0.25, 0.5, 0.75, 1.0]
    assert delays[63] == 16.0 and delays[64:] == [16.0] * 6
    assert all(b - a in (0.25, 0.0) for a, b in itertools.pairwise(delays))


def test_http_errors_back_off_exponentially_from_5_s_up_to_320_s() -> None:
    backoff = Backoff()
    assert [backoff.http_error() for _ in range(9)] == [5, 10, 20, 40, 80, 160, 320, 320, 320]


def test_429_backs_off_exponentially_from_60_s() -> None:
    backoff = Backoff()
    assert [backoff.rate_limited() for _ in range(5)] == [60, 120, 240, 320, 320]
    # An earlier HTTP error does not lower the floor; a later one continues from where 429 left it.
    backoff = Backoff()
    assert backoff.http_error() == 5
    assert backoff.rate_limited() == 60
    assert backoff.http_error() == 120


def test_a_200_connect_resets_every_delay() -> None:
    backoff = Backoff()
    for _ in range(5):
        backoff.network_error()
        backoff.rate_limited()
    backoff.connected()
    assert backoff.network_error() == 0.25
    assert backoff.http_error() == 5
    backoff.connected()
    assert backoff.rate_limited() == 60


def test_the_scale_shrinks_every_delay_alike() -> None:
    backoff = Backoff(scale=0.01)
    assert backoff.network_error() == pytest.approx(0.0025)
    assert backoff.http_error() == pytest.approx(0.05)
    assert backoff.rate_limited() == pytest.approx(0.6)
    with pytest.raises(ValueError):
        Backoff(scale=0)


# --- Rules -----------------------------------------------------------------------------------------


def test_desired_rules_tag_each_account_and_wrap_keyword_queries() -> None:
    rules = desired_rules(
        [
            StreamAccount(3, "ExampleBankHelp", ("Example Bank", "examplebank app")),
            StreamAccount(12, "OtherBank"),
        ]
    )
    assert rules == {
        Rule("haven:3:mention", "@ExampleBankHelp -is:retweet"),
        Rule("haven:3:keyword", "(Example Bank) -is:retweet"),
        Rule("haven:3:keyword", "(examplebank app) -is:retweet"),
        Rule("haven:12:mention", "@OtherBank -is:retweet"),
    }


def test_only_haven_tags_name_an_account() -> None:
    assert account_id_of_tag("haven:3:mention") == 3
    assert account_id_of_tag("haven:42:keyword") == 42
    for other in ["brand", "haven:3", "haven:x:mention", "haven:3:other", "haven:٣:mention", None, 3, ""]:
        assert account_id_of_tag(other) is None


def test_rule_plan_deletes_stale_haven_rules_adds_missing_ones_and_never_touches_foreign_ones() -> None:
    existing = [
        {"id": "1", "value": "@ExampleBankHelp -is:retweet", "tag": "haven:3:mention"},  # kept
        {"id": "2", "value": "(old words) -is:retweet", "tag": "haven:3:keyword"},  # stale
        {"id": "3", "value": "@ExampleBankHelp -is:retweet", "tag": "marketing"},  # foreign
        {"id": "4", "value": "cats", "tag": None},  # foreign, untagged
        {"id": "5", "value": "(new words) -is:retweet", "tag": "haven:9:keyword"},  # moved to account 3
        "garbage",
    ]
    desired = desired_rules([StreamAccount(3, "ExampleBankHelp", ("new words",))])
    plan = plan_rules(existing, desired)
    assert sorted(plan.delete_ids) == ["2", "5"]
    assert plan.add == (Rule("haven:3:keyword", "(new words) -is:retweet"),)
    assert plan_rules([{"id": "9", "value": r.value, "tag": r.tag} for r in desired], desired) == plan_rules(
        [], set()
    )


# --- Lines -----------------------------------------------------------------------------------------


def test_a_post_line_becomes_a_raw_event_for_the_accounts_its_haven_rules_name() -> None:
    line = _line(
        {
            "data": TWEET,
            "includes": {"users": [{"id": "1", "username": "someone"}, USER]},
            "matching_rules": [
                {"id": "11", "tag": "haven:3:mention"},
                {"id": "12", "tag": "haven:3:keyword"},
                {"id": "13", "tag": "haven:7:keyword"},
                {"id": "14", "tag": "marketing"},
            ],
        }
    )
    parsed = parse_line(line)
    assert isinstance(parsed, StreamedPost)
    assert parsed.account_ids == {3, 7}
    assert parsed.event.external_id == TWEET["id"] and parsed.event.error is None
    stored = json.loads(parsed.event.payload)
    assert stored == {"format": RAW_FORMAT, "tweet": TWEET, "author": USER}
    post = parse_tweet_event(parsed.event.payload, brand_user_id=BRAND)
    assert post.author.handle == "developer" and post.thread_key == TWEET["id"]


def test_a_post_matching_only_foreign_rules_names_no_account() -> None:
    parsed = parse_line(_line({"data": TWEET, "matching_rules": [{"id": "1", "tag": "marketing"}]}))
    assert isinstance(parsed, StreamedPost) and parsed.account_ids == frozenset()
    assert json.loads(parsed.event.payload)["author"] is None


@pytest.mark.parametrize("line", [b"", b"\r", b"\r\n", b"  \r\n", b"\n"])
def test_blank_lines_are_keep_alives(line: bytes) -> None:
    assert parse_line(line) is KEEP_ALIVE


def test_an_operational_disconnect_line_asks_for_a_reconnect() -> None:
    line = _line(
        {
            "errors": [
                {
                    "title": "operational-disconnect",
                    "disconnect_type": "UpstreamOperationalDisconnect",
                    "detail": "This stream has been disconnected upstream for operational reasons.",
                    "type": "https://api.x.com/2/problems/operational-disconnect",
                }
            ]
        }
    )
    assert parse_line(line) == StreamNotice(("operational-disconnect",), disconnect=True)
    other = parse_line(_line({"errors": [{"title": "Not Found Error", "type": "…/resource-not-found"}]}))
    assert other == StreamNotice(("Not Found Error",), disconnect=False)


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        (b"{not json", "stream line is not JSON"),
        (b"\xff\xfe\x00garbage", "stream line is not JSON"),
        (b"[1, 2, 3]", "stream line is not a JSON object"),
        (b'{"meta": {}}', "stream line has neither data nor errors"),
        (b'{"data": {"id": "12x"}}', "stream line has no valid tweet id"),
        (b'{"data": {"id": 12}}', "stream line has no valid tweet id"),
        (b'{"data": {"id": "12345678901234567890"}}', "stream line has no valid tweet id"),
        (b'{"data": "text"}', "stream line has no valid tweet id"),
        (b'{"data": {"id": "\\u0661\\u0662"}}', "stream line has no valid tweet id"),
        (b"[" * 100_000 + b"]" * 100_000, "stream line is not JSON"),
    ],
)
def test_malformed_lines_are_kept_as_invalid_events(line: bytes, reason: str) -> None:
    parsed = parse_line(line)
    assert isinstance(parsed, StreamedInvalid)
    assert parsed.event.error == reason
    assert parsed.event.external_id.startswith("invalid:")
    assert len(parsed.event.payload) <= 20_000


def test_an_invalid_line_keeps_the_accounts_it_names() -> None:
    parsed = parse_line(_line({"data": {"text": "no id"}, "matching_rules": [{"tag": "haven:5:mention"}]}))
    assert isinstance(parsed, StreamedInvalid) and parsed.account_ids == frozenset({5})
    unknown = parse_line(_line({"data": {"text": "no id"}, "matching_rules": "oops"}))
    assert isinstance(unknown, StreamedInvalid) and unknown.account_ids is None


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)
stream_keys = st.sampled_from(["data", "includes", "matching_rules", "errors", "id", "tag", "users", "title"])
stream_like = st.recursive(
    json_values,
    lambda children: st.dictionaries(stream_keys | st.text(max_size=5), children, max_size=5),
    max_leaves=30,
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300))
def test_garbage_bytes_never_crash_the_parser(line: bytes) -> None:
    assert isinstance(parse_line(line), StreamedPost | StreamedInvalid | StreamNotice | type(KEEP_ALIVE))


@settings(max_examples=200, deadline=None)
@given(stream_like)
def test_garbage_json_never_crashes_the_parser(body: object) -> None:
    parsed = parse_line(json.dumps(body).encode())
    if isinstance(parsed, StreamedPost):
        # Whatever came in, the stored event is a JSON envelope the pipeline can judge.
        assert json.loads(parsed.event.payload)["format"] == RAW_FORMAT
        assert parsed.event.external_id.isdigit()


# --- Splitting -------------------------------------------------------------------------------------


async def _chunks(*parts: bytes) -> AsyncIterator[bytes]:
    for part in parts:
        yield part


async def test_lines_are_split_across_chunks_and_a_trailing_partial_line_is_dropped() -> None:
    lines = [line async for line in split_lines(_chunks(b'{"a"', b":1}\r\n\r\n{", b'"b":2}\r', b'\n{"c'))]
    assert lines == [b'{"a":1}\r', b"\r", b'{"b":2}\r']


async def test_an_endless_line_breaks_the_connection() -> None:
    with pytest.raises(StreamBroken):
        async for _ in split_lines(_chunks(b"x" * 600, b"y" * 600), max_line=1000):
            pass


@settings(max_examples=100, deadline=None)
@given(st.lists(st.binary(max_size=50).filter(lambda b: b"\n" not in b), max_size=10), st.data())
async def test_splitting_keeps_every_complete_line(lines: list[bytes], data: st.DataObject) -> None:
    blob = b"".join(line + b"\n" for line in lines)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(blob)), max_size=5)))
    parts = [blob[a:b] for a, b in zip([0, *cuts], [*cuts, len(blob)], strict=True)]
    assert [line async for line in split_lines(_chunks(*parts))] == lines


def test_a_streamed_author_is_stored_whole_with_its_audience() -> None:
    author = {**USER, "verified": True, "public_metrics": {"followers_count": 184_000, "tweet_count": 3}}
    parsed = parse_line(_line({"data": {**TWEET, "lang": "es"}, "includes": {"users": [author]}}))
    assert isinstance(parsed, StreamedPost)
    assert json.loads(parsed.event.payload)["author"] == author
    post = parse_tweet_event(parsed.event.payload, brand_user_id=BRAND)
    assert (post.author.followers, post.author.verified, post.lang) == (184_000, True, "es")


async def test_every_read_asks_for_the_audience_and_the_language() -> None:
    """Polling, search, the stream and DM reads all request what triage needs."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"meta": {"result_count": 0}})

    credentials = XCredentials(
        consumer_key="k", consumer_secret="s", access_token="t", access_token_secret="ts", bearer_token="b"
    )
    client = XClient("http://x.test", credentials, transport=httpx.MockTransport(answer))
    try:
        await client.mentions(BRAND)
        await client.search_recent("@brand")
        await client.dm_events()
        async with client.filtered_stream():
            pass
    finally:
        await client.aclose()
    assert [r.url.path for r in seen] == [
        f"/2/users/{BRAND}/mentions",
        "/2/tweets/search/recent",
        "/2/dm_events",
        "/2/tweets/search/stream",
    ]
    for request in seen:
        params = request.url.params
        assert {"verified", "public_metrics"} <= set(params["user.fields"].split(","))
        assert "sender_id" in params["expansions"] or "author_id" in params["expansions"]
        if request.url.path != "/2/dm_events":
            assert "lang" in params["tweet.fields"].split(",")
