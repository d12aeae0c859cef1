"""The demo's data: Example Bank, its team, agents with generated passwords, its X account.

Idempotent: a second run keeps what exists and reuses the passwords written the first time.
"""

from __future__ import annotations

import json
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.agents.service import create_agent
from haven.channels.base import Trigger
from haven.channels.x.client import XCredentials
from haven.channels.x.settings import IngestPaths, XAccountSettings
from haven.channels.x.setup import connect_x_account, whoami
from haven.demo.triage_seed import seed_triage_demo
from haven.models import Agent, ApiToken, Availability, Brand, Role, Team
from haven.runtime import Runtime
from haven.security.passwords import hash_password
from haven.security.sessions import create_api_token

BRAND_SLUG = "example-bank"
BRAND_NAME = "Example Bank"
BRAND_HANDLE = "ExampleBankHelp"
BRAND_WEB = "https://bank.example"
#: The demo listens every way xsim speaks but webhooks (which need a public URL; see
#: `haven x webhook register`): the stream for speed, mentions polling as the safety net, DMs.
DEMO_X_SETTINGS = XAccountSettings(
    ingest=IngestPaths(mentions=True, search=False, stream=True, webhooks=False, dms=True),
    keyword_queries=["Example Bank"],
    open_on=frozenset({Trigger.MENTION, Trigger.REPLY, Trigger.KEYWORD, Trigger.DIRECT_MESSAGE}),
)

DEMO_AGENTS = (
    ("alex@bank.example", "Alex Agent", Role.AGENT),
    ("sam@bank.example", "Sam Supervisor", Role.SUPERVISOR),
    ("ada@bank.example", "Ada Admin", Role.ADMIN),
)


@dataclass
class DemoAgent:
    email: str
    name: str
    role: str
    password: str


@dataclass
class DemoCredentials:
    console_url: str
    xsim_url: str
    brand_handle: str
    agents: list[DemoAgent]
    api_token: str

    def write(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        path.chmod(0o600)


def _known_passwords(path: Path) -> dict[str, str]:
    try:
        data = json.loads(path.read_text())
        return {a["email"]: a["password"] for a in data.get("agents", [])}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def demo_x_credentials() -> XCredentials:
    """Fresh random credentials for this demo run; xsim is started with the same ones."""
    return XCredentials(
        consumer_key=secrets.token_urlsafe(18),
        consumer_secret=secrets.token_urlsafe(30),
        access_token=f"1-{secrets.token_urlsafe(30)}",
        access_token_secret=secrets.token_urlsafe(30),
        bearer_token=f"AAAA{secrets.token_urlsafe(60)}",
    )


async def _brand(session: AsyncSession) -> Brand:
    brand = await session.scalar(select(Brand).where(Brand.slug == BRAND_SLUG))
    if brand is None:
        brand = Brand(slug=BRAND_SLUG, name=BRAND_NAME, public_web_url=BRAND_WEB)
        session.add(brand)
        await session.flush()
    return brand


async def _team(session: AsyncSession, brand: Brand) -> Team:
    team = await session.scalar(select(Team).where(Team.brand_id == brand.id))
    if team is None:
        team = Team(brand_id=brand.id, name="Social care")
        session.add(team)
        await session.flush()
    return team


async def seed_demo(
    runtime: Runtime,
    *,
    xsim_url: str,
    credentials: XCredentials,
    credentials_file: Path,
) -> DemoCredentials:
    known = _known_passwords(credentials_file)
    user = await whoami(xsim_url, credentials)
    agents: list[DemoAgent] = []
    async with runtime.database.unit_of_work() as session:
        brand = await _brand(session)
        team = await _team(session, brand)
        account = await connect_x_account(
            session,
            runtime.cipher,
            brand_id=brand.id,
            api_base_url=xsim_url,
            credentials=credentials,
            user=user,
        )
        if not account.settings:
            account.settings = DEMO_X_SETTINGS.model_dump(mode="json")
        demo_agents: list[Agent] = []
        for email, name, role in DEMO_AGENTS:
            password = known.get(email) or secrets.token_urlsafe(12)
            agent = await session.scalar(select(Agent).where(Agent.email == email))
            if agent is None:
                agent = await create_agent(
                    session,
                    brand_id=brand.id,
                    email=email,
                    display_name=name,
                    password=password,
                    role=role,
                    teams=[team],
                )
            elif email not in known:
                agent.password_hash = hash_password(password)
            demo_agents.append(agent)
            agents.append(DemoAgent(email=email, name=name, role=role.value, password=password))
        for agent in demo_agents:
            # Online, so routing hands the demo's conversations out from the first tweet.
            agent.availability = Availability.ONLINE
        await seed_triage_demo(session, brand)
        for old in (await session.scalars(select(ApiToken).where(ApiToken.name == "demo"))).all():
            await session.delete(old)
        _, api_token = await create_api_token(session, demo_agents[0], "demo")
    return DemoCredentials(
        console_url=runtime.settings.public_base_url,
        xsim_url=xsim_url,
        brand_handle=f"@{user.username}",
        agents=agents,
        api_token=api_token,
    )
