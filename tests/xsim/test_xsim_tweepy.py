"""tweepy, an independent X client, against xsim served over a real socket.

tweepy hard-codes ``https://api.twitter.com``. ``RebasedSession`` rewrites that prefix
*before* requests prepares the request, so the OAuth 1.0a signature is computed over
the URL actually called (``http://127.0.0.1:<port>/…``), which is what xsim verifies.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import requests
import tweepy
from xsim_support import BRAND_ID, CONFIG

pytestmark = pytest.mark.e2e

TWEEPY_HOST = "https://api.twitter.com"


class RebasedSession(requests.Session):
    def __init__(self, base_url: str) -> None:
        super().__init__()
        self.base_url = base_url

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        if isinstance(url, str) and url.startswith(TWEEPY_HOST):
            url = self.base_url + url[len(TWEEPY_HOST) :]
        return super().request(method, url, *args, **kwargs)


def _client(base_url: str, **credentials: str) -> tweepy.Client:
    client = tweepy.Client(**credentials)
    client.session = RebasedSession(base_url)
    return client


def brand_client(base_url: str, **overrides: str) -> tweepy.Client:
    credentials = {
        "bearer_token": CONFIG.app_bearer_token,
        "consumer_key": CONFIG.consumer_key,
        "consumer_secret": CONFIG.consumer_secret,
        "access_token": CONFIG.brand_access_token,
        "access_token_secret": CONFIG.brand_access_token_secret,
    }
    return _client(base_url, **(credentials | overrides))


def customer_client(base_url: str, username: str) -> tuple[tweepy.Client, str]:
    """A simulated customer: OAuth 2.0 user token, used by tweepy with ``user_auth=False``."""
    response = httpx.post(f"{base_url}/_sim/users", json={"username": username})
    response.raise_for_status()
    body = response.json()
    return _client(base_url, bearer_token=body["access_token"]), body["id"]


def test_conversation_round_trip(live_xsim: str) -> None:
    brand = brand_client(live_xsim)
    customer, customer_id = customer_client(live_xsim, "carol")

    me = brand.get_me()
    assert (me.data.id, me.data.username) == (int(BRAND_ID), "ExampleBankHelp")

    mention = customer.create_tweet(text="@ExampleBankHelp my card was eaten", user_auth=False)
    mention_id = mention.data["id"]

    mentions = brand.get_users_mentions(
        BRAND_ID,
        tweet_fields=["author_id", "conversation_id", "created_at", "entities"],
        expansions=["author_id"],
        user_fields=["username"],
    )
    (tweet,) = mentions.data
    assert tweet.id == int(mention_id)
    assert tweet.author_id == int(customer_id)
    assert tweet.conversation_id == int(mention_id)
    assert tweet.created_at is not None
    assert mentions.includes["users"][0].username == "carol"
    newest = mentions.meta["newest_id"]

    reply = brand.create_tweet(text="@carol Sorry! DM us", in_reply_to_tweet_id=mention_id)
    follow_up = customer.create_tweet(
        text="@ExampleBankHelp done", in_reply_to_tweet_id=reply.data["id"], user_auth=False
    )

    later = brand.get_users_mentions(BRAND_ID, since_id=newest)
    assert [t.id for t in later.data] == [int(follow_up.data["id"])]

    thread = brand.search_recent_tweets(f"conversation_id:{mention_id}", tweet_fields=["in_reply_to_user_id"])
    assert [t.id for t in thread.data] == [
        int(follow_up.data["id"]),
        int(reply.data["id"]),
        int(mention_id),
    ]
    assert thread.data[1].in_reply_to_user_id == int(customer_id)

    looked_up = brand.get_tweet(reply.data["id"], user_auth=True)
    assert looked_up.data.text == "@carol Sorry! DM us"

    assert brand.delete_tweet(reply.data["id"]).data == {"deleted": True}
    gone = brand.get_tweet(reply.data["id"])
    assert gone.data is None and gone.errors[0]["title"] == "Not Found Error"


def test_paginator_walks_all_mentions(live_xsim: str) -> None:
    brand = brand_client(live_xsim)
    customer, _ = customer_client(live_xsim, "dave")
    posted = [
        customer.create_tweet(text=f"@ExampleBankHelp note {n}", user_auth=False).data["id"]
        for n in range(12)
    ]
    pages = list(tweepy.Paginator(brand.get_users_mentions, BRAND_ID, max_results=5))
    assert [len(page.data) for page in pages] == [5, 5, 2]
    assert [t.id for page in pages for t in page.data] == [int(i) for i in reversed(posted)]
    searched = list(tweepy.Paginator(brand.search_recent_tweets, "note from:dave", max_results=10).flatten())
    assert len(searched) == 12


def test_errors_map_to_tweepy_exceptions(live_xsim: str) -> None:
    brand = brand_client(live_xsim)
    brand.create_tweet(text="Service update: all systems normal")
    with pytest.raises(tweepy.Forbidden) as duplicate:
        brand.create_tweet(text="Service update: all systems normal")
    assert "duplicate content" in duplicate.value.api_messages[0]

    with pytest.raises(tweepy.BadRequest):
        brand.get_users_mentions(BRAND_ID, max_results=1)

    with pytest.raises(tweepy.Unauthorized):
        brand_client(live_xsim, consumer_secret="wrong").get_me()
    with pytest.raises(tweepy.Unauthorized):
        brand_client(live_xsim, bearer_token="wrong").get_users_mentions(BRAND_ID)


def test_rate_limit_is_reported_to_tweepy(live_xsim: str) -> None:
    httpx.post(f"{live_xsim}/_sim/config", json={"rate_limits": {"me_user": 1}}).raise_for_status()
    brand = brand_client(live_xsim)
    brand.get_me()
    with pytest.raises(tweepy.TooManyRequests) as limited:
        brand.get_me()
    assert limited.value.response.headers["x-rate-limit-remaining"] == "0"
    assert limited.value.reset_time is not None


def test_app_token_over_a_real_socket(live_xsim: str) -> None:
    response = httpx.post(
        f"{live_xsim}/oauth2/token",
        auth=(CONFIG.consumer_key, CONFIG.consumer_secret),
        data={"grant_type": "client_credentials"},
    )
    assert response.json()["access_token"] == CONFIG.app_bearer_token
