"""Creating agents and teams (used by the CLI and the demo seed), and an agent's availability."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.db import queue_event
from haven.kit.actor import SYSTEM, Actor
from haven.kit.errors import Conflict, Invalid
from haven.models import Agent, Availability, Role, Team
from haven.realtime.events import agent_availability_changed
from haven.security.passwords import hash_password


async def create_agent(
    session: AsyncSession,
    *,
    brand_id: int,
    email: str,
    display_name: str,
    password: str,
    role: Role = Role.AGENT,
    teams: list[Team] | None = None,
) -> Agent:
    email = email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise Invalid("that is not an e-mail address")
    if await session.scalar(select(Agent.id).where(func.lower(Agent.email) == email)):
        raise Conflict(f"an agent with e-mail {email} exists already")
    try:
        password_hash = hash_password(password)
    except ValueError as exc:
        raise Invalid(str(exc)) from exc
    agent = Agent(
        brand_id=brand_id,
        email=email,
        display_name=display_name.strip()[:100] or email,
        password_hash=password_hash,
        role=role,
        teams=list(teams or []),
    )
    session.add(agent)
    await session.flush()
    record(session, SYSTEM, "agent.create", "agent", agent.id, {"role": role.value})
    return agent


async def set_availability(session: AsyncSession, actor: Actor, availability: Availability) -> Agent:
    """An agent goes online (routing may give them conversations) or away; audited.

    The change is published after commit, so the routing loop can hand out queued work soon.
    """
    agent = actor.agent
    if agent is None:
        raise Invalid("only an agent has an availability")
    if agent.availability is not availability:
        previous, agent.availability = agent.availability, availability
        record(
            session,
            actor,
            "agent.availability",
            "agent",
            agent.id,
            {"from": previous.value, "to": availability.value},
        )
        queue_event(session, agent_availability_changed(agent.brand_id, agent.id, availability.value))
    return agent
