"""The demo's seed and its simulated customers, against a real xsim."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from sqlalchemy import func, select

from haven.demo.scenario import CUSTOMERS, DIRECT_MESSAGES, Scenario
from haven.demo.seed import seed_demo
from haven.models import Agent, ApiToken, ChannelAccount
from haven.runtime import Runtime
from haven.security.passwords import verify_password
from haven.security.sessions import agent_for_api_token
from tests.e2e.conftest import Stack


async def test_seeding_twice_keeps_agents_and_passwords_and_rotates_the_token(
    runtime: Runtime, stack: Stack, empty_database: None, tmp_path: Path
) -> None:
    credentials_file = tmp_path / "demo-credentials.json"
    first = await seed_demo(
        runtime, xsim_url=stack.xsim_url, credentials=stack.credentials, credentials_file=credentials_file
    )
    first.write(credentials_file)
    assert credentials_file.stat().st_mode & 0o777 == 0o600
    second = await seed_demo(
        runtime, xsim_url=stack.xsim_url, credentials=stack.credentials, credentials_file=credentials_file
    )
    assert [a.password for a in second.agents] == [a.password for a in first.agents]
    assert second.api_token != first.api_token
    assert second.brand_handle == "@ExampleBankHelp"
    assert json.loads(credentials_file.read_text())["agents"][0]["email"] == "alex@bank.example"
    async with runtime.database.unit_of_work() as session:
        assert await session.scalar(select(func.count()).select_from(Agent)) == 3
        assert await session.scalar(select(func.count()).select_from(ChannelAccount)) == 1
        assert await session.scalar(select(func.count()).select_from(ApiToken)) == 1
        assert await agent_for_api_token(session, first.api_token) is None
        assert await agent_for_api_token(session, second.api_token) is not None
        alex = await session.scalar(select(Agent).where(Agent.email == "alex@bank.example"))
        assert alex is not None and verify_password(alex.password_hash, first.agents[0].password)


async def test_simulated_customers_tweet_at_the_brand(stack: Stack) -> None:
    scenario = Scenario(stack.xsim_url, "@ExampleBankHelp", seed=7)
    try:
        await scenario.setup()
        await scenario.setup()  # a second demo run finds its customers already there
        for _ in range(20):
            await scenario.post_one()
    finally:
        await scenario.aclose()
    async with httpx.AsyncClient(base_url=stack.xsim_url) as xsim:
        tweets, dms = [], []
        for username, _ in CUSTOMERS:
            tweets += (await xsim.get("/_sim/tweets", params={"author": username})).json()["tweets"]
            events = (await xsim.get("/_sim/dms", params={"participant": username})).json()["dm_events"]
            dms += [e for e in events if e["sender_username"] == username]
    # A repeated text may be refused as a duplicate, as X would; some customers move to DMs.
    assert len(tweets) >= 10 and len(tweets) + len(dms) >= 14
    assert dms and all(e["text"] in DIRECT_MESSAGES for e in dms)
    assert all(t["text"].startswith("@ExampleBankHelp ") for t in tweets)
    assert any(t["in_reply_to_tweet_id"] for t in tweets)
