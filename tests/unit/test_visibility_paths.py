"""A private message can never reach a public path, whatever the caller does.

The adapter is driven against a real xsim (in process, over httpx's ASGI transport) with generated
messages of every visibility, built every way a caller could build them — through ``outbound_for``,
by hand with the wrong visibility, or by forcing a field of a frozen object — and the simulated X is
then searched for what the brand actually published.
"""

from __future__ import annotations

import asyncio
import itertools
from typing import Literal

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from haven.channels.base import VisibilityRefused
from haven.channels.x.client import XClient, XCredentials
from haven.channels.x.delivery import Outbound, PrivateMessage, PublicReply, deliver, outbound_for
from haven.models import Visibility
from xsim.app import create_app
from xsim.config import SimConfig

Build = Literal["outbound_for", "public_type", "private_type", "forced"]
_serial = itertools.count()


def _credentials(config: SimConfig) -> XCredentials:
    return XCredentials(
        consumer_key=config.consumer_key,
        consumer_secret=config.consumer_secret,
        access_token=config.brand_access_token,
        access_token_secret=config.brand_access_token_secret,
        bearer_token=config.app_bearer_token,
    )


def _build(how: Build, visibility: Visibility, text: str, tweet_id: str, customer_id: str) -> Outbound:
    if how == "outbound_for":
        return outbound_for(
            text=text,
            visibility=visibility,
            thread_key=tweet_id,
            in_reply_to=tweet_id,
            recipient_user_id=customer_id,
            brand_handle="ExampleBankHelp",
            brand_user_id=SimConfig().brand_user_id,
        )
    if how == "public_type":
        return PublicReply(text, tweet_id, tweet_id, "ExampleBankHelp", visibility=visibility)
    if how == "private_type":
        return PrivateMessage(text, customer_id, SimConfig().brand_user_id, visibility=visibility)
    # A caller that forces the field of a frozen public reply after it was checked.
    reply = PublicReply(text, tweet_id, tweet_id, "ExampleBankHelp")
    object.__setattr__(reply, "visibility", visibility)
    return reply


async def _published(sim: httpx.AsyncClient, customer_id: str) -> tuple[set[str], set[str]]:
    tweets = (await sim.get("/_sim/tweets", params={"author": "ExampleBankHelp"})).json()["tweets"]
    dms = (await sim.get("/_sim/dms", params={"participant": customer_id})).json()["dm_events"]
    brand_id = SimConfig().brand_user_id
    return {t["text"] for t in tweets}, {d["text"] for d in dms if d["sender_id"] == brand_id}


async def _run(plan: list[tuple[Build, Visibility]]) -> None:
    config = SimConfig()
    app = create_app(config)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://xsim.test") as sim:
        customer = (await sim.post("/_sim/users", json={"username": "prop"})).json()
        posted = await sim.post(
            "/2/tweets",
            json={"text": "@ExampleBankHelp help"},
            headers={"Authorization": f"Bearer {customer['access_token']}"},
        )
        tweet_id = posted.json()["data"]["id"]
        client = XClient("http://xsim.test", _credentials(config), transport=transport)
        sent: dict[str, Visibility] = {}
        try:
            for how, visibility in plan:
                text = f"message {next(_serial)} ({visibility.value})"
                try:
                    outbound = _build(how, visibility, text, tweet_id, customer["id"])
                    await deliver(client, outbound)
                except VisibilityRefused:
                    continue
                sent[text] = visibility
        finally:
            await client.aclose()
        tweets, dms = await _published(sim, customer["id"])
    for text, visibility in sent.items():
        assert visibility is not Visibility.INTERNAL
        assert (text in tweets) == (visibility is Visibility.PUBLIC)
        assert (text in dms) == (visibility is Visibility.PRIVATE)
    assert not {text for text in tweets if "(private)" in text or "(internal)" in text}
    assert not {text for text in dms if "(public)" in text or "(internal)" in text}


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["outbound_for", "public_type", "private_type", "forced"]),
            st.sampled_from(list(Visibility)),
        ),
        min_size=1,
        max_size=8,
    )
)
def test_each_message_reaches_only_the_path_of_its_visibility(plan: list[tuple[Build, Visibility]]) -> None:
    asyncio.run(_run(plan))


@pytest.mark.parametrize("visibility", [Visibility.PRIVATE, Visibility.INTERNAL])
def test_a_public_reply_cannot_be_made_of_anything_but_a_public_message(visibility: Visibility) -> None:
    with pytest.raises(VisibilityRefused):
        PublicReply("text", "1", "1", "brand", visibility=visibility)


@pytest.mark.parametrize("visibility", [Visibility.PUBLIC, Visibility.INTERNAL])
def test_a_dm_cannot_be_made_of_anything_but_a_private_message(visibility: Visibility) -> None:
    with pytest.raises(VisibilityRefused):
        PrivateMessage("text", "2", "1", visibility=visibility)


def test_an_internal_note_has_no_path_at_all() -> None:
    with pytest.raises(VisibilityRefused):
        outbound_for(
            text="note",
            visibility=Visibility.INTERNAL,
            thread_key="1",
            in_reply_to="1",
            recipient_user_id="2",
            brand_handle="brand",
            brand_user_id="1",
        )
