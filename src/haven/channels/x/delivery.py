"""Delivering outbound messages to X, and finding out whether an earlier attempt already did."""

from __future__ import annotations

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
    in_reply_to: str | None
    brand_handle: str


async def deliver(client: XClient, outbound: OutboundTweet) -> Delivered:
    """Post a public reply. Anything but a public message is refused: this path is public."""
    if outbound.visibility is not Visibility.PUBLIC:
        raise VisibilityRefused(f"a {outbound.visibility.value} message cannot be posted as a tweet")
    try:
        tweet_id = await client.create_tweet(outbound.text, in_reply_to=outbound.in_reply_to)
    except XApiError as exc:
        raise DeliveryError(
            f"X answered {exc.status} {exc.title}: {exc.detail}"[:500],
            terminal=exc.terminal,
            retry_at=exc.retry_at,
        ) from exc
    except httpx.HTTPError as exc:
        # The request may or may not have reached X: the next attempt looks before it posts.
        raise DeliveryError(f"no answer from X ({type(exc).__name__})", terminal=False) from exc
    return Delivered(external_id=tweet_id, in_reply_to_external_id=outbound.in_reply_to)


async def find_delivered(client: XClient, outbound: OutboundTweet) -> Delivered | None:
    """Look on X for the brand's tweet with this text in this thread (after an ambiguous failure)."""
    if outbound.visibility is not Visibility.PUBLIC:
        return None
    query = f"from:{outbound.brand_handle} conversation_id:{outbound.thread_key}"
    try:
        body = await client.search_recent(query)
    except (XApiError, httpx.HTTPError) as exc:
        raise DeliveryError("could not check whether X already has the reply", terminal=False) from exc
    for tweet in body.get("data") or []:
        if isinstance(tweet, dict) and tweet.get("text") == outbound.text:
            return Delivered(external_id=str(tweet["id"]), in_reply_to_external_id=outbound.in_reply_to)
    return None
