"""Parsing v1.1 webhook shapes: the same post lands as the v2 parsers make it, hostile input is
refused with a reason, and nothing raises anything but MalformedPayload."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.channels.base import InboundPost, Trigger
from haven.channels.x.client import EXPANSIONS, TWEET_FIELDS, USER_FIELDS
from haven.channels.x.events import parse_stored_event
from haven.channels.x.parse import DM_FORMAT, MAX_FOLLOWERS, RAW_FORMAT, MalformedPayload, split_page
from haven.channels.x.parse_v1 import V1_DM_FORMAT, V1_TWEET_FORMAT, parse_epoch_ms, parse_v1_time
from haven.channels.x.webhooks import split_delivery
from haven.models import Visibility
from xsim.ids import SnowflakeGenerator
from xsim.params import Selection
from xsim.render import page_document
from xsim.store import Store, User
from xsim.v1_render import tweet_create_payload

BRAND = "2244994945"
CUSTOMER = "3001969357"
TWEET_ID = "1924465506158878979"
PARENT_ID = "1924465506158870000"


def v2_tweet(**changes: Any) -> str:
    tweet = {
        "id": TWEET_ID,
        "text": "@brand where is my refund?",
        "author_id": CUSTOMER,
        "created_at": "2025-05-19T14:01:46.000Z",
        "conversation_id": TWEET_ID,
        "entities": {"mentions": [{"start": 0, "end": 6, "username": "brand", "id": BRAND}]},
        "edit_history_tweet_ids": [TWEET_ID],
        **changes,
    }
    author = {"id": tweet["author_id"], "username": "customer", "name": "Jordan"}
    return json.dumps({"format": RAW_FORMAT, "tweet": tweet, "author": author})


def v1_tweet(**changes: Any) -> dict[str, Any]:
    return {
        "created_at": "Mon May 19 14:01:46 +0000 2025",
        "id": 1924465506158879000,
        "id_str": TWEET_ID,
        "text": "@brand where is my refund?",
        "truncated": False,
        "in_reply_to_status_id_str": None,
        "in_reply_to_user_id_str": None,
        "user": {"id_str": CUSTOMER, "name": "Jordan", "screen_name": "customer"},
        "timestamp_ms": "1747663306000",
        "entities": {"user_mentions": [{"screen_name": "brand", "id_str": BRAND, "indices": [0, 6]}]},
        **changes,
    }


def via_webhook(tweet: dict[str, Any], *, for_user_id: str = BRAND) -> InboundPost:
    """Through the real path: split the delivery, then parse what would be stored."""
    body = json.dumps({"for_user_id": for_user_id, "tweet_create_events": [tweet]}).encode()
    [event] = split_delivery(body).events
    return parse_stored_event(event.payload, brand_user_id=BRAND)


def v1_payload(tweet: Any, **envelope: Any) -> str:
    return json.dumps({"format": V1_TWEET_FORMAT, "for_user_id": BRAND, "tweet": tweet, **envelope})


# --- a post seen by polling and by webhook lands identically -------------------------------------


def test_a_root_mention_parses_exactly_as_its_v2_twin() -> None:
    v2 = parse_stored_event(v2_tweet(), brand_user_id=BRAND)
    v1 = via_webhook(v1_tweet())
    assert v1 == v2
    assert v1.trigger is Trigger.MENTION and v1.thread_key == TWEET_ID and not v1.thread_from_parent


def test_a_reply_matches_its_v2_twin_but_its_thread_is_resolved_later() -> None:
    v2 = parse_stored_event(
        v2_tweet(
            conversation_id="1924465506158800000",
            in_reply_to_user_id=BRAND,
            referenced_tweets=[{"type": "replied_to", "id": PARENT_ID}],
        ),
        brand_user_id=BRAND,
    )
    v1 = via_webhook(v1_tweet(in_reply_to_status_id_str=PARENT_ID, in_reply_to_user_id_str=BRAND))
    assert v1.trigger is Trigger.REPLY and v1.in_reply_to_external_id == PARENT_ID
    # v1.1 has no conversation id: the parent's id stands in until the pipeline walks the chain.
    assert v1.thread_key == PARENT_ID and v1.thread_from_parent
    assert dataclasses.replace(v1, thread_key=v2.thread_key, thread_from_parent=False) == v2


def test_a_keyword_post_and_its_author_fields() -> None:
    post = via_webhook(v1_tweet(text="brand is slow", entities={}, user={"id_str": CUSTOMER}))
    assert post.trigger is Trigger.KEYWORD
    assert post.author.handle == CUSTOMER and post.author.display_name == CUSTOMER


def test_times_come_from_created_at_with_the_milliseconds_of_timestamp_ms() -> None:
    assert via_webhook(v1_tweet(timestamp_ms="1747663306123")).created_at == datetime(
        2025, 5, 19, 14, 1, 46, 123_000, tzinfo=UTC
    )
    # A timestamp_ms that disagrees with created_at (or is junk) is not believed.
    for odd in ("1747663399000", "soon", "9" * 15):
        assert via_webhook(v1_tweet(timestamp_ms=odd)).created_at == datetime(
            2025, 5, 19, 14, 1, 46, tzinfo=UTC
        )
    # Zones other than +0000 are read as given and kept in UTC.
    other_zone = via_webhook(v1_tweet(created_at="Mon May 19 16:01:46 +0200 2025"))
    assert other_zone.created_at == datetime(2025, 5, 19, 14, 1, 46, tzinfo=UTC)


def test_v1_times_parse_without_the_locale() -> None:
    assert parse_v1_time("Mon May 19 14:01:46 +0000 2025") == datetime(2025, 5, 19, 14, 1, 46, tzinfo=UTC)
    assert parse_v1_time("Sun Dec 31 23:30:00 -0130 2023") == datetime(2024, 1, 1, 1, 0, tzinfo=UTC)
    assert parse_epoch_ms("1516403560557") == datetime(2018, 1, 19, 23, 12, 40, 557_000, tzinfo=UTC)
    for junk in (
        "2025-05-19T14:01:46Z",
        "Mon Foo 19 14:01:46 +0000 2025",
        "Mon May 32 14:01:46 +0000 2025",
        "Mon May 19 25:01:46 +0000 2025",
        "Mon May 19 14:01:46 +2400 2025",
        "",
        1747663306,
    ):
        with pytest.raises(ValueError):
            parse_v1_time(junk)
    for junk in ("-1", "1.5", "١٢٣", "9" * 16, 5):
        with pytest.raises(ValueError):
            parse_epoch_ms(junk)


def test_long_posts_use_the_extended_text_and_its_mentions() -> None:
    full = "@brand " + "my card was charged twice " * 10
    post = via_webhook(
        v1_tweet(
            text=full[:139] + "…",
            truncated=True,
            entities={"user_mentions": []},
            extended_tweet={
                "full_text": full,
                "entities": {"user_mentions": [{"id_str": BRAND, "screen_name": "brand"}]},
            },
        )
    )
    assert post.text == full and post.trigger is Trigger.MENTION


def test_echoes_and_retweets_are_ignored_quotes_are_not() -> None:
    own = via_webhook(v1_tweet(user={"id_str": BRAND, "screen_name": "brand"}))
    assert own.ignore_reason == "the brand's own post"
    assert (
        parse_stored_event(v2_tweet(author_id=BRAND), brand_user_id=BRAND).ignore_reason == own.ignore_reason
    )
    retweet = via_webhook(v1_tweet(retweeted_status=v1_tweet(id_str="1")))
    assert retweet.ignore_reason == "a retweet"
    quote = via_webhook(v1_tweet(is_quote_status=True, quoted_status=v1_tweet(id_str="1")))
    assert quote.ignore_reason is None


def test_a_delivery_for_another_account_is_refused() -> None:
    with pytest.raises(MalformedPayload, match="another account"):
        via_webhook(v1_tweet(), for_user_id="42")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"id_str": 1924465506158878979}, "id_str"),
        ({"id_str": "1" * 20}, "id_str"),
        ({"text": None}, "text"),
        ({"text": "x" * 25_001}, "text"),
        ({"created_at": "2025-05-19T14:01:46Z"}, "created_at"),
        ({"created_at": 1747663306}, "created_at"),
        ({"user": {"id_str": "abc", "screen_name": "x"}}, "user.id_str"),
        ({"user": None}, "user"),
        ({"in_reply_to_status_id_str": "12; DROP"}, "in_reply_to_status_id_str"),
        ({"entities": {"user_mentions": [{}] * 101}}, "entities.user_mentions"),
        ({"truncated": True, "extended_tweet": {"full_text": "x" * 25_001}}, "extended_tweet.full_text"),
    ],
)
def test_malformed_tweets_are_refused_with_the_field_named(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayload, match=field):
        parse_stored_event(v1_payload(v1_tweet(**changes)), brand_user_id=BRAND)


def test_reasons_never_echo_the_content() -> None:
    with pytest.raises(MalformedPayload) as caught:
        parse_stored_event(v1_payload(v1_tweet(text="SECRET 4111111111111111" * 2000)), brand_user_id=BRAND)
    assert "SECRET" not in str(caught.value) and "4111" not in str(caught.value)


# --- direct messages ------------------------------------------------------------------------------


def v1_dm(sender: str = CUSTOMER, recipient: str = BRAND, **changes: Any) -> dict[str, Any]:
    return {
        "type": "message_create",
        "id": "954491830116155396",
        "created_timestamp": "1516403560557",
        "message_create": {
            "target": {"recipient_id": recipient},
            "sender_id": sender,
            "message_data": {"text": "Blue Bird", "entities": {}},
        },
        **changes,
    }


def dm_via_webhook(event: dict[str, Any], users: Any = None) -> InboundPost:
    users = (
        {CUSTOMER: {"id": CUSTOMER, "name": "Jordan", "screen_name": "customer"}} if users is None else users
    )
    body = {"for_user_id": BRAND, "direct_message_events": [event], "users": users}
    [stored] = split_delivery(json.dumps(body).encode()).events
    return parse_stored_event(stored.payload, brand_user_id=BRAND)


def test_a_dm_parses_exactly_as_its_v2_twin() -> None:
    v2_event = {
        "id": "954491830116155396",
        "event_type": "MessageCreate",
        "text": "Blue Bird",
        "sender_id": CUSTOMER,
        "dm_conversation_id": f"{BRAND}-{CUSTOMER}",
        "created_at": "2018-01-19T23:12:40.557Z",
    }
    sender = {"id": CUSTOMER, "username": "customer", "name": "Jordan"}
    v2 = parse_stored_event(
        json.dumps({"format": DM_FORMAT, "event": v2_event, "sender": sender}), brand_user_id=BRAND
    )
    v1 = dm_via_webhook(v1_dm())
    assert v1 == v2
    assert v1.visibility is Visibility.PRIVATE and v1.trigger is Trigger.DIRECT_MESSAGE
    # The 1:1 conversation id orders the two ids as numbers, not as strings.
    assert dm_via_webhook(v1_dm(sender="99")).thread_key == f"dm:99-{BRAND}"


def test_the_brands_own_dm_is_an_echo_and_a_stranger_thread_is_refused() -> None:
    assert dm_via_webhook(v1_dm(sender=BRAND, recipient=CUSTOMER)).ignore_reason == "the brand's own message"
    with pytest.raises(MalformedPayload, match="neither to nor from"):
        dm_via_webhook(v1_dm(sender=CUSTOMER, recipient="42"))


def test_a_dm_without_its_sender_in_users_still_parses() -> None:
    post = dm_via_webhook(v1_dm(), users={})
    assert post.author.handle == CUSTOMER and post.text == "Blue Bird"
    with pytest.raises(MalformedPayload, match="sender does not match"):
        dm_via_webhook(v1_dm(), users={CUSTOMER: {"id": "7", "screen_name": "x"}})


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"created_timestamp": 1516403560557}, "created_timestamp"),
        ({"created_timestamp": "yesterday"}, "created_timestamp"),
        ({"message_create": None}, "message_create"),
        ({"message_create": {"sender_id": CUSTOMER, "target": {}}}, "message_create.target.recipient_id"),
    ],
)
def test_malformed_dms_are_refused_with_the_field_named(changes: dict[str, Any], field: str) -> None:
    payload = json.dumps({"format": V1_DM_FORMAT, "for_user_id": BRAND, "event": v1_dm(**changes)})
    with pytest.raises(MalformedPayload, match=field):
        parse_stored_event(payload, brand_user_id=BRAND)


def test_an_overlong_dm_is_refused() -> None:
    event = v1_dm()
    event["message_create"]["message_data"]["text"] = "x" * 10_001
    with pytest.raises(MalformedPayload, match=r"message_data\.text"):
        parse_stored_event(json.dumps({"format": V1_DM_FORMAT, "event": event}), brand_user_id=BRAND)


# --- anything at all ------------------------------------------------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=20,
)


def _near_tweet() -> st.SearchStrategy[dict[str, Any]]:
    """Tweets that are almost right: each field is either good or arbitrary JSON."""
    good = v1_tweet()
    return st.fixed_dictionaries({key: st.just(value) | JSON for key, value in good.items()})


@settings(max_examples=300)
@given(
    st.one_of(
        st.text(max_size=200),
        JSON.map(json.dumps),
        st.fixed_dictionaries(
            {
                "format": st.sampled_from([V1_TWEET_FORMAT, V1_DM_FORMAT]),
                "for_user_id": JSON,
                "tweet": JSON,
                "event": JSON,
                "sender": JSON,
            }
        ).map(json.dumps),
        _near_tweet().map(lambda tweet: v1_payload(tweet)),
        st.fixed_dictionaries(
            {
                "format": st.just(V1_DM_FORMAT),
                "event": st.fixed_dictionaries(
                    {key: st.just(value) | JSON for key, value in v1_dm().items()}
                ),
                "sender": JSON,
            }
        ).map(json.dumps),
    )
)
def test_any_stored_payload_parses_or_is_refused_cleanly(payload: str) -> None:
    try:
        post = parse_stored_event(payload, brand_user_id=BRAND)
    except MalformedPayload as refused:
        assert str(refused)
    else:
        assert post.external_id.isdigit() and post.author.external_id.isdigit()
        assert post.created_at.tzinfo is not None


# --- audience and language ------------------------------------------------------------------------


def test_audience_and_lang_match_the_v2_twin() -> None:
    v2_author = {
        "id": CUSTOMER,
        "username": "customer",
        "name": "Jordan",
        "verified": True,
        "public_metrics": {
            "followers_count": 184_000,
            "following_count": 1,
            "tweet_count": 2,
            "listed_count": 0,
        },
    }
    v2_payload = json.loads(v2_tweet(lang="es"))
    v2 = parse_stored_event(json.dumps(v2_payload | {"author": v2_author}), brand_user_id=BRAND)
    user = {"id_str": CUSTOMER, "name": "Jordan", "screen_name": "customer"}
    v1 = via_webhook(v1_tweet(lang="es", user=user | {"followers_count": 184_000, "verified": True}))
    assert v1 == v2
    assert (v1.author.followers, v1.author.verified, v1.lang) == (184_000, True, "es")


def test_v1_tweets_without_the_fields_parse_with_defaults() -> None:
    post = via_webhook(v1_tweet())
    assert (post.author.followers, post.author.verified, post.lang) == (0, False, None)
    assert via_webhook(v1_tweet(lang="und")).lang is None


@pytest.mark.parametrize(
    ("followers", "expected"),
    [
        (-1, 0),
        ("5000", 0),
        (1e30, MAX_FOLLOWERS),
        (2**80, MAX_FOLLOWERS),
        (None, 0),
        ({"n": 5}, 0),
        (True, 0),
        (42, 42),
    ],
)
@pytest.mark.parametrize("verified", ["true", 1, None, {}, [True]])
@pytest.mark.parametrize("lang", ["und", "English", 7, None, "en-", {"lang": "en"}])
def test_hostile_audience_and_lang_never_make_a_tweet_malformed(
    followers: Any, expected: int, verified: Any, lang: Any
) -> None:
    user = {"id_str": CUSTOMER, "screen_name": "customer", "followers_count": followers, "verified": verified}
    post = via_webhook(v1_tweet(user=user, lang=lang))
    assert (post.author.followers, post.author.verified, post.lang) == (expected, False, None)


def test_a_dm_sender_carries_their_audience_as_in_v2() -> None:
    v2_event = {
        "id": "954491830116155396",
        "event_type": "MessageCreate",
        "text": "Blue Bird",
        "sender_id": CUSTOMER,
        "dm_conversation_id": f"{BRAND}-{CUSTOMER}",
        "created_at": "2018-01-19T23:12:40.557Z",
    }
    sender = {
        "id": CUSTOMER,
        "username": "customer",
        "name": "Jordan",
        "verified": True,
        "public_metrics": {"followers_count": 9_000},
    }
    v2 = parse_stored_event(
        json.dumps({"format": DM_FORMAT, "event": v2_event, "sender": sender}), brand_user_id=BRAND
    )
    v1_sender = {
        "id": CUSTOMER,
        "name": "Jordan",
        "screen_name": "customer",
        "followers_count": 9_000,
        "verified": True,
    }
    v1 = dm_via_webhook(v1_dm(), users={CUSTOMER: v1_sender})
    assert v1 == v2
    assert (v1.author.followers, v1.author.verified, v1.lang) == (9_000, True, None)
    hostile = v1_sender | {"followers_count": "9000", "verified": "true"}
    junk = dm_via_webhook(v1_dm(), users={CUSTOMER: hostile})
    assert (junk.author.followers, junk.author.verified) == (0, False)
    assert dm_via_webhook(v1_dm(), users={}).author.followers == 0


async def test_xsims_webhook_payloads_parse_as_its_v2_pages() -> None:
    """xsim renders the same user into v1.1 and v2; Haven reads the same Author out of both."""
    store = Store(
        brand=User(id=BRAND, username="brand", name="Brand", created_at=datetime.now(UTC), is_brand=True),
        ids=SnowflakeGenerator(),
    )
    carla = await store.create_user("carla", "Carla", followers_count=184_000, verified=True)
    tweet = await store.create_tweet(author=carla, text="@brand mi tarjeta", lang="es")
    [event] = split_delivery(json.dumps(tweet_create_payload(store, tweet, BRAND)).encode()).events
    v1 = parse_stored_event(event.payload, brand_user_id=BRAND)
    # What Haven asks for when it polls.
    requested = Selection(
        tweet_fields=frozenset(TWEET_FIELDS.split(",")),
        user_fields=frozenset(USER_FIELDS.split(",")),
        expansions=frozenset(EXPANSIONS.split(",")),
    )
    [raw] = split_page(page_document(store, [tweet], requested, None)).events
    v2 = parse_stored_event(raw.payload, brand_user_id=BRAND)
    assert dataclasses.replace(v1, thread_key=v2.thread_key, thread_from_parent=False) == v2
    assert (v2.author.followers, v2.author.verified, v2.lang) == (184_000, True, "es")
