"""tweepy's Direct Message methods against xsim over a real socket (an independent client)."""

from __future__ import annotations

import httpx
import pytest
import tweepy
from test_xsim_tweepy import brand_client, customer_client
from xsim_support import BRAND_ID

pytestmark = pytest.mark.e2e


def test_dm_round_trip(live_xsim: str) -> None:
    brand = brand_client(live_xsim)
    customer, customer_id = customer_client(live_xsim, "erin")

    sent = customer.create_direct_message(
        participant_id=BRAND_ID, text="My transfer vanished", user_auth=False
    )
    conversation_id = sent.data["dm_conversation_id"]
    assert conversation_id == f"{BRAND_ID}-{customer_id}"

    answer = brand.create_direct_message(participant_id=customer_id, text="Sorry! Which transfer?")
    follow_up = customer.create_direct_message(
        dm_conversation_id=conversation_id, text="The one on Monday", user_auth=False
    )

    events = brand.get_direct_message_events(
        dm_event_fields=["created_at", "sender_id", "dm_conversation_id"],
        expansions=["sender_id"],
        user_fields=["username"],
    )
    assert [e.id for e in events.data] == [
        int(follow_up.data["dm_event_id"]),
        int(answer.data["dm_event_id"]),
        int(sent.data["dm_event_id"]),
    ]
    newest = events.data[0]
    assert newest.event_type == "MessageCreate" and newest.text == "The one on Monday"
    assert newest.sender_id == int(customer_id)
    assert newest.dm_conversation_id == conversation_id
    assert newest.created_at is not None
    assert {u.username for u in events.includes["users"]} == {"erin", "ExampleBankHelp"}

    with_customer = brand.get_direct_message_events(participant_id=customer_id, max_results=1)
    assert [e.text for e in with_customer.data] == ["The one on Monday"]
    assert "next_token" in with_customer.meta
    in_conversation = customer.get_direct_message_events(dm_conversation_id=conversation_id, user_auth=False)
    assert len(in_conversation.data) == 3


def test_dm_paginator_and_groups(live_xsim: str) -> None:
    brand = brand_client(live_xsim)
    _, customer_id = customer_client(live_xsim, "finn")
    other, other_id = customer_client(live_xsim, "gus")
    for n in range(5):
        brand.create_direct_message(participant_id=customer_id, text=f"update {n}")
    pages = list(tweepy.Paginator(brand.get_direct_message_events, participant_id=customer_id, max_results=2))
    assert [len(page.data) for page in pages] == [2, 2, 1]
    assert [e.text for page in pages for e in page.data] == [f"update {n}" for n in reversed(range(5))]

    group = brand.create_direct_message_conversation(
        text="Group notice", participant_ids=[customer_id, other_id]
    )
    listed = other.get_direct_message_events(
        dm_conversation_id=group.data["dm_conversation_id"],
        event_types=["MessageCreate"],
        user_auth=False,
    )
    assert [e.text for e in listed.data] == ["Group notice"]


def test_dm_errors_map_to_tweepy_exceptions(live_xsim: str) -> None:
    brand = brand_client(live_xsim)
    _, customer_id = customer_client(live_xsim, "hana")
    httpx.patch(f"{live_xsim}/_sim/users/hana", json={"accepts_dms": False}).raise_for_status()
    with pytest.raises(tweepy.Forbidden) as refused:
        brand.create_direct_message(participant_id=customer_id, text="hello")
    assert refused.value.api_messages == ["You cannot send messages to this user."]
    with pytest.raises(tweepy.NotFound):
        brand.create_direct_message(participant_id="123456", text="hello")
    with pytest.raises(tweepy.BadRequest):
        brand.create_direct_message(participant_id=BRAND_ID, text="x" * 10_001)
    with pytest.raises(tweepy.Forbidden):  # DMs need user auth, not the app bearer token
        brand.get_direct_message_events(user_auth=False)
