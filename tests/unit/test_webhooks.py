"""Account Activity webhooks: the contract's CRC and signature vectors, and splitting deliveries
(hostile, malformed and oversized input refused with a reason, never a crash)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from haven.channels.x.events import parse_stored_event
from haven.channels.x.parse import MalformedPayload
from haven.channels.x.parse_v1 import V1_DM_FORMAT, V1_TWEET_FORMAT
from haven.channels.x.webhook_admin import check_webhook_id, hook_url
from haven.channels.x.webhooks import (
    MAX_DELIVERY_BYTES,
    MAX_ITEMS,
    DeliveryTooLarge,
    app_id,
    crc_response,
    is_app_id,
    sign,
    split_delivery,
    verify_signature,
)
from haven.kit.errors import Invalid

BRAND = "2244994945"
CUSTOMER = "3001969357"

TWEET = {
    "created_at": "Mon May 19 14:01:46 +0000 2025",
    "id": 1924465506158879000,
    "id_str": "1924465506158878979",
    "text": "@brand where is my refund?",
    "truncated": False,
    "in_reply_to_status_id_str": None,
    "in_reply_to_user_id_str": BRAND,
    "in_reply_to_screen_name": "brand",
    "user": {"id_str": CUSTOMER, "name": "Jordan", "screen_name": "customer"},
    "is_quote_status": False,
    "lang": "en",
    "timestamp_ms": "1747663306000",
    "entities": {
        "hashtags": [],
        "urls": [],
        "symbols": [],
        "user_mentions": [{"screen_name": "brand", "id_str": BRAND, "indices": [0, 6]}],
    },
}
DM = {
    "type": "message_create",
    "id": "954491830116155396",
    "created_timestamp": "1516403560557",
    "initiated_via": {"tweet_id": "123456", "welcome_message_id": "456789"},
    "message_create": {
        "target": {"recipient_id": BRAND},
        "sender_id": CUSTOMER,
        "source_app_id": "13090192",
        "message_data": {"text": "Blue Bird", "entities": {}},
    },
}
USERS = {CUSTOMER: {"id": CUSTOMER, "name": "Jordan", "screen_name": "customer"}}


def _body(value: Any) -> bytes:
    return json.dumps(value).encode()


# --- the contract's vectors ---------------------------------------------------------------------


def test_crc_vector() -> None:
    assert crc_response("test", "challenge_string") == "sha256=SYYKwb5URQ4OnNXL3KWDH9ph6EIaP+4PTQFxLk5FIK4="


@pytest.mark.parametrize(
    ("body", "signature"),
    [
        (b"test=1&other_test=2", "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc="),
        (b'{"test_number":1,"test_string":"two"}', "sha256=YWHphPn/JFq43jkF0y4/w8R/SelmLjvpunhVFY8JhlI="),
    ],
)
def test_signature_vectors(body: bytes, signature: str) -> None:
    assert sign("test", body) == signature
    assert verify_signature("test", body, signature)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "sha256=",
        "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc",  # one character short
        "25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc=",  # no prefix
        "sha1=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc=",
        "sha256=25Cu3iwbbiqBTwQRzcKJZwisjf736V2Q8UaTlkfLSoc=\u00e9",  # not ASCII
    ],
)
def test_bad_or_missing_signatures_fail(header: str | None) -> None:
    assert not verify_signature("test", b"test=1&other_test=2", header)


def test_the_signature_covers_the_exact_bytes_and_the_secret() -> None:
    body = b'{"test_number":1,"test_string":"two"}'
    good = sign("test", body)
    assert not verify_signature("test", b'{"test_number": 1, "test_string": "two"}', good)
    assert not verify_signature("other", body, good)


def test_app_id_is_a_short_public_hash_of_the_consumer_key() -> None:
    one = app_id("xvz1evFS4wEEPTGEFPHBog")
    assert is_app_id(one) and len(one) == 16 and one == app_id("xvz1evFS4wEEPTGEFPHBog")
    assert one != app_id("another key") and "xvz1" not in one
    assert not is_app_id("../../etc") and not is_app_id(one.upper())


# --- splitting deliveries -------------------------------------------------------------------------


def test_the_contracts_tweet_delivery_splits_into_one_event_keyed_by_id_str() -> None:
    delivery = split_delivery(_body({"for_user_id": BRAND, "tweet_create_events": [TWEET]}))
    assert delivery.for_user_id == BRAND
    [event] = delivery.events
    # The integer id lost precision in JSON; the string is the truth.
    assert event.external_id == "1924465506158878979" and event.error is None
    stored = json.loads(event.payload)
    assert stored == {"format": V1_TWEET_FORMAT, "for_user_id": BRAND, "tweet": TWEET}


def test_the_contracts_dm_delivery_keeps_its_sender_from_the_users_map() -> None:
    body = {"for_user_id": BRAND, "direct_message_events": [DM], "apps": {"13090192": {}}, "users": USERS}
    [event] = split_delivery(_body(body)).events
    assert event.external_id == DM["id"]
    assert json.loads(event.payload) == {
        "format": V1_DM_FORMAT,
        "for_user_id": BRAND,
        "event": DM,
        "sender": USERS[CUSTOMER],
    }


def test_non_conversation_events_are_counted_not_stored() -> None:
    body = {
        "for_user_id": BRAND,
        "favorite_events": [{"id": "1"}, {"id": "2"}],
        "follow_events": [{"type": "follow"}],
        "direct_message_indicate_typing_events": [{"sender_id": CUSTOMER}],
        "direct_message_mark_read_events": [{"sender_id": CUSTOMER}],
        "direct_message_events": [{**DM, "type": "participants_join"}],
        "tweet_delete_events": [
            {"status": {"id": "601430178305220608", "user_id": CUSTOMER}, "timestamp_ms": "1"},
            {"status": {"id": 5}},
        ],
        "users": USERS,
        "apps": {},
    }
    delivery = split_delivery(_body(body))
    assert delivery.events == []
    assert delivery.deleted_tweet_ids == ["601430178305220608"]
    assert delivery.ignored == {
        "favorite_events": 2,
        "follow_events": 1,
        "direct_message_indicate_typing_events": 1,
        "direct_message_mark_read_events": 1,
        "direct_message_events:participants_join": 1,
        "tweet_delete_events:invalid": 1,
    }


def test_a_revocation_without_for_user_id_names_its_user() -> None:
    body = {
        "user_event": {"revoke": {"date_time": "2018-05-24T09:48:12+00:00", "source": {"user_id": BRAND}}}
    }
    delivery = split_delivery(_body(body))
    assert delivery.for_user_id == BRAND and delivery.revoked_by == BRAND and delivery.events == []


def test_a_user_event_of_another_kind_is_ignored_not_refused() -> None:
    delivery = split_delivery(_body({"for_user_id": BRAND, "user_event": {"something_new": {}}}))
    assert delivery.revoked_by is None and delivery.ignored == {"user_event": 1}


def test_junk_items_are_kept_marked_for_an_operator() -> None:
    body = {
        "for_user_id": BRAND,
        "tweet_create_events": [None, 3, {"id": 1924465506158879000}, {"id_str": "12; DROP"}],
        "direct_message_events": [{"type": "message_create"}, {"id": "5"}, "x"],
    }
    events = split_delivery(_body(body)).events
    assert len(events) == 7
    assert all(event.external_id.startswith("invalid:") and event.error for event in events)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"", "not JSON"),
        (b"\xff\xfe\x00garbage", "not JSON"),
        (b"test=1&other_test=2", "not JSON"),
        (b'{"for_user_id": NaN}', "not JSON"),
        (b"[" * 100_000 + b"]" * 100_000, "not JSON"),
        (b"[]", "not a JSON object"),
        (b'"text"', "not a JSON object"),
        (b"{}", "for_user_id"),
        (b'{"for_user_id": 2244994945}', "for_user_id"),
        (b'{"for_user_id": "22449949451234567890"}', "for_user_id"),
        (b'{"for_user_id": "2244994945", "tweet_create_events": {"id_str": "1"}}', "tweet_create_events"),
        (b'{"for_user_id": "2244994945", "direct_message_events": "x"}', "direct_message_events"),
        (b'{"for_user_id": "2244994945", "tweet_delete_events": 1}', "tweet_delete_events"),
        (b'{"user_event": {"revoke": {}}}', "for_user_id"),
        (b'{"user_event": "revoke"}', "for_user_id"),
    ],
)
def test_malformed_deliveries_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedPayload, match=reason):
        split_delivery(body)


def test_oversized_deliveries_and_arrays_are_refused() -> None:
    padding = "x" * MAX_DELIVERY_BYTES
    with pytest.raises(DeliveryTooLarge):
        split_delivery(_body({"for_user_id": BRAND, "pad": padding}))
    with pytest.raises(MalformedPayload, match="more than"):
        split_delivery(_body({"for_user_id": BRAND, "tweet_create_events": [{}] * (MAX_ITEMS + 1)}))


def test_reasons_and_ignored_names_never_echo_content() -> None:
    secret = "SECRET 4111111111111111"
    with pytest.raises(MalformedPayload) as caught:
        split_delivery(_body({"for_user_id": secret}))
    assert "SECRET" not in str(caught.value)
    delivery = split_delivery(_body({"for_user_id": BRAND, f"{secret} <script>": [1]}))
    assert all("<" not in name and " " not in name for name in delivery.ignored)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4)
    ),
    max_leaves=25,
)
DELIVERY_KEYS = st.sampled_from(
    ["tweet_create_events", "direct_message_events", "tweet_delete_events", "user_event", "users", "x"]
)


@settings(max_examples=300)
@given(
    st.one_of(
        st.binary(max_size=200),
        JSON.map(lambda v: json.dumps(v).encode()),
        st.dictionaries(DELIVERY_KEYS, JSON, max_size=4).map(
            lambda d: json.dumps({"for_user_id": BRAND, **d}).encode()
        ),
        st.dictionaries(DELIVERY_KEYS, st.lists(JSON, max_size=3), max_size=3).map(
            lambda d: json.dumps({"for_user_id": BRAND, **d}).encode()
        ),
    )
)
def test_any_body_splits_or_is_refused_cleanly(body: bytes) -> None:
    try:
        delivery = split_delivery(body)
    except MalformedPayload as refused:
        assert str(refused)
    else:
        assert delivery.for_user_id.isdigit()
        for event in delivery.events:
            assert event.error or event.external_id.isdigit()


def test_the_registered_url_is_havens_base_plus_the_apps_hook() -> None:
    the_app = app_id("ck")
    assert hook_url("https://care.bank.example/", the_app) == f"https://care.bank.example/hooks/x/{the_app}"
    given = f"https://care.bank.example/hooks/x/{the_app}"
    assert hook_url(given, the_app) == given
    for bad in ("care.bank.example", "ftp://x", "https://care.bank.example/hooks/x/0123456789abcdef"):
        with pytest.raises(Invalid):
            hook_url(bad, the_app)
    assert check_webhook_id("1234") == "1234"
    with pytest.raises(Invalid):
        check_webhook_id("../1")


def test_deliveries_are_stored_whole_so_the_audience_and_lang_survive() -> None:
    """The stored envelope keeps X's user objects as sent: nothing to migrate when Haven reads more."""
    user = {
        "id_str": CUSTOMER,
        "name": "Jordan",
        "screen_name": "customer",
        "followers_count": 184_000,
        "verified": True,
        "future_field": {"x": 1},
    }
    tweet = {**TWEET, "user": user, "lang": "es"}
    [event] = split_delivery(_body({"for_user_id": BRAND, "tweet_create_events": [tweet]})).events
    assert json.loads(event.payload)["tweet"] == tweet
    post = parse_stored_event(event.payload, brand_user_id=BRAND)
    assert (post.author.followers, post.author.verified, post.lang) == (184_000, True, "es")

    sender = {**USERS[CUSTOMER], "followers_count": 9_000, "verified": True, "statuses_count": 5}
    body = {"for_user_id": BRAND, "direct_message_events": [DM], "users": {CUSTOMER: sender}}
    [event] = split_delivery(_body(body)).events
    assert json.loads(event.payload)["sender"] == sender
    post = parse_stored_event(event.payload, brand_user_id=BRAND)
    assert (post.author.followers, post.author.verified, post.lang) == (9_000, True, None)
