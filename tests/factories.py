"""Building small worlds in the database for tests: brands, agents, an X account, posts."""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import select

from haven.agents.service import create_agent
from haven.channels.x.account import seal_credentials
from haven.channels.x.client import XCredentials
from haven.channels.x.parse import RAW_FORMAT, RawEvent
from haven.inbound.pipeline import process_pending
from haven.inbound.store import store_raw_events
from haven.models import (
    Agent,
    Brand,
    ChannelAccount,
    ChannelKind,
    Message,
    ResponseTemplate,
    ResponseTemplateVariant,
    Role,
    Team,
)
from haven.runtime import Runtime

PASSWORD = "correct horse battery staple"
CREDENTIALS = XCredentials(
    consumer_key="ck",
    consumer_secret="cs",
    access_token="at",
    access_token_secret="ats",
    bearer_token="bearer",
)
_ids = itertools.count(1_800_000_000_000_000_000)


def next_id() -> str:
    return str(next(_ids))


@dataclass
class World:
    brand: Brand
    team: Team
    agent: Agent
    supervisor: Agent
    account: ChannelAccount
    other_brand: Brand
    outsider: Agent
    other_account: ChannelAccount


async def make_world(
    runtime: Runtime,
    *,
    api_base_url: str = "http://127.0.0.1:9",
    tag: str = "",
    credentials: XCredentials = CREDENTIALS,
    brand_user_id: str | None = None,
) -> World:
    tag = tag or next_id()[-6:]
    async with runtime.database.unit_of_work() as session:
        brand = Brand(slug=f"bank-{tag}", name="Example Bank", public_web_url="https://bank.example")
        other = Brand(slug=f"other-{tag}", name="Other Bank", public_web_url="https://other.example")
        session.add_all([brand, other])
        await session.flush()
        team = Team(brand_id=brand.id, name="Social care")
        session.add(team)
        agent = await create_agent(
            session,
            brand_id=brand.id,
            email=f"alex-{tag}@bank.example",
            display_name="Alex Agent",
            password=PASSWORD,
            teams=[team],
        )
        supervisor = await create_agent(
            session,
            brand_id=brand.id,
            email=f"sam-{tag}@bank.example",
            display_name="Sam Supervisor",
            password=PASSWORD,
            role=Role.SUPERVISOR,
            teams=[team],
        )
        outsider = await create_agent(
            session,
            brand_id=other.id,
            email=f"eve-{tag}@other.example",
            display_name="Eve Outsider",
            password=PASSWORD,
        )
        sealed = seal_credentials(runtime.cipher, credentials)
        account = ChannelAccount(
            brand_id=brand.id,
            kind=ChannelKind.X,
            handle="ExampleBankHelp",
            external_user_id=brand_user_id or next_id(),
            api_base_url=api_base_url,
            credentials_encrypted=sealed,
            settings={},
        )
        other_account = ChannelAccount(
            brand_id=other.id,
            kind=ChannelKind.X,
            handle="OtherBank",
            external_user_id=next_id(),
            api_base_url=api_base_url,
            credentials_encrypted=sealed,
            settings={},
        )
        session.add_all([account, other_account])
    return World(brand, team, agent, supervisor, account, other, outsider, other_account)


def tweet_event(
    *,
    author_id: str,
    username: str = "customer",
    text: str = "@ExampleBankHelp my card is lost",
    tweet_id: str | None = None,
    conversation_id: str | None = None,
    replied_to: str | None = None,
    retweet_of: str | None = None,
    created_at: datetime | None = None,
) -> RawEvent:
    """A raw event as the poller stores it (a v2 tweet plus its author from `includes`)."""
    tweet_id = tweet_id or next_id()
    refs = []
    if replied_to:
        refs.append({"type": "replied_to", "id": replied_to})
    if retweet_of:
        refs.append({"type": "retweeted", "id": retweet_of})
    tweet = {
        "id": tweet_id,
        "text": text,
        "author_id": author_id,
        "conversation_id": conversation_id or tweet_id,
        "created_at": (created_at or datetime.now(UTC)).isoformat().replace("+00:00", "Z"),
        "referenced_tweets": refs,
        "edit_history_tweet_ids": [tweet_id],
    }
    author = {"id": author_id, "username": username, "name": username.title()}
    return RawEvent(tweet_id, json.dumps({"format": RAW_FORMAT, "tweet": tweet, "author": author}))


async def inbound_conversation(
    runtime: Runtime, world: World, *, text: str = "@ExampleBankHelp help", username: str = "customer"
) -> int:
    """Run one customer tweet through the real inbound pipeline; return its conversation's id."""
    event = tweet_event(author_id=next_id(), text=text, username=username)
    async with runtime.database.unit_of_work() as session:
        await store_raw_events(session, world.account.id, "mentions", [event])
    await process_pending(runtime)
    async with runtime.database.reader() as session:
        conversation_id = await session.scalar(
            select(Message.conversation_id).where(Message.external_id == event.external_id)
        )
    assert conversation_id is not None
    return conversation_id


async def another_agent(runtime: Runtime, world: World, name: str, *, role: Role = Role.AGENT) -> Agent:
    """One more agent of the world's brand and team (password ``PASSWORD``)."""
    async with runtime.database.unit_of_work() as session:
        team = await session.get_one(Team, world.team.id)
        return await create_agent(
            session,
            brand_id=world.brand.id,
            email=f"{name.lower().replace(' ', '.')}-{next_id()[-6:]}@bank.example",
            display_name=name,
            password=PASSWORD,
            role=role,
            teams=[team],
        )


async def response_template(
    runtime: Runtime,
    brand_id: int,
    name: str,
    body: str,
    *,
    intents: tuple[str, ...] = (),
    intent_groups: tuple[str, ...] = (),
    for_private_data: bool = False,
    language: str = "en",
) -> int:
    """A canned reply with one language variant; returns its id."""
    async with runtime.database.unit_of_work() as session:
        template = ResponseTemplate(
            brand_id=brand_id,
            name=name,
            intents=list(intents),
            intent_groups=list(intent_groups),
            for_private_data=for_private_data,
            variants=[ResponseTemplateVariant(language=language, body=body)],
        )
        session.add(template)
        await session.flush()
        return template.id
