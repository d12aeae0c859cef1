"""Delivering outbound messages to X, and finding out whether an earlier attempt already did."""

from __future__ import annotations

import html
from collections.abc import Collection
from dataclasses import dataclass

import httpx

from haven.channels.base import Delivered, DeliveryError, VisibilityRefused
from haven.channels.x.client import XApiError, XClient
from haven.models import Visibility


@dataclass(frozen=True, slots=True)
class OutboundTweet:
    text: str
    visibility: Visibility
    thread_key: str
    #: The customer's tweet this answers; a reply with nothing to answer is not sent.
    in_reply_to: str | None
    brand_handle: str


async def deliver(client: XClient, outbound: OutboundTweet) -> Delivered:
    """Post a public reply. Anything but a public message is refused: this path is public."""
    if outbound.visibility is not Visibility.PUBLIC:
        raise VisibilityRefused(f"a {outbound.visibility.value} message cannot be posted as a tweet")
    if outbound.in_reply_to is None:
        raise DeliveryError("there is no customer post in this conversation to reply to", terminal=True)
    try:
        tweet_id = await client.create_tweet(outbound.text, in_reply_to=outbound.in_reply_to)
    except XApiError as exc:
        raise DeliveryError(
            f"X answered {exc.status} {exc.title}: {exc.detail}"[:500],
            terminal=exc.terminal,
            retry_at=exc.retry_at,
        ) from exc
    except httpx.ConnectError as exc:
        raise DeliveryError("could not connect to X", terminal=False) from exc
    except httpx.HTTPError as exc:
        # The request may have reached X before the answer was lost.
        raise DeliveryError(
            f"no answer from X ({type(exc).__name__})", terminal=False, uncertain=True
        ) from exc
    return Delivered(external_id=tweet_id, in_reply_to_external_id=outbound.in_reply_to)


def _replied_to(tweet: dict[str, object]) -> str | None:
    references = tweet.get("referenced_tweets")
    for reference in references if isinstance(references, list) else []:
        if isinstance(reference, dict) and reference.get("type") == "replied_to":
            return str(reference.get("id"))
    return None


async def find_delivered(
    client: XClient, outbound: OutboundTweet, *, known_ids: Collection[str]
) -> Delivered | None:
    """Look on X for this very reply: the brand's tweet in this thread, answering the same customer
    tweet with the same text, that Haven has not recorded for another message (``known_ids``)."""
    if outbound.visibility is not Visibility.PUBLIC or outbound.in_reply_to is None:
        return None
    query = f"from:{outbound.brand_handle} conversation_id:{outbound.thread_key}"
    try:
        body = await client.search_recent(query)
    except (XApiError, httpx.HTTPError) as exc:
        raise DeliveryError(
            "could not check whether X already has the reply", terminal=False, uncertain=True
        ) from exc
    data = body.get("data")
    for tweet in data if isinstance(data, list) else []:
        if not isinstance(tweet, dict) or str(tweet.get("id")) in known_ids:
            continue
        # X escapes &, < and > in tweet text.
        same_text = html.unescape(str(tweet.get("text"))) == outbound.text
        if same_text and _replied_to(tweet) == outbound.in_reply_to:
            return Delivered(external_id=str(tweet["id"]), in_reply_to_external_id=outbound.in_reply_to)
    return None
