"""Console sessions: a random token in an HttpOnly cookie, its SHA-256 in the database."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.models import Agent, AgentSession, ApiToken
from haven.security.secrets import new_token, token_hash

SESSION_COOKIE = "haven_session"
API_TOKEN_PREFIX = "hvn_"  # noqa: S105 (a prefix, not a secret)
#: Refresh ``last_seen_at`` at most this often, to keep reads from turning into writes.
_TOUCH_EVERY = timedelta(minutes=1)


async def start_session(session: AsyncSession, agent: Agent, ttl: timedelta) -> str:
    token = new_token()
    now = utcnow()
    session.add(
        AgentSession(agent_id=agent.id, token_hash=token_hash(token), created_at=now, expires_at=now + ttl)
    )
    agent.last_login_at = now
    return token


async def agent_for_session(session: AsyncSession, token: str | None) -> Agent | None:
    """The agent behind a live session token, or None (unknown, expired, revoked, deactivated)."""
    if not token or len(token) > 128:
        return None
    row = await session.scalar(select(AgentSession).where(AgentSession.token_hash == token_hash(token)))
    now = utcnow()
    if row is None or row.revoked_at is not None or row.expires_at <= now:
        return None
    agent = await session.get(Agent, row.agent_id)
    if agent is None or not agent.is_active:
        return None
    if now - row.last_seen_at > _TOUCH_EVERY:
        row.last_seen_at = now
    return agent


async def end_session(session: AsyncSession, token: str | None) -> None:
    if not token:
        return
    row = await session.scalar(select(AgentSession).where(AgentSession.token_hash == token_hash(token)))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()


async def create_api_token(session: AsyncSession, agent: Agent, name: str) -> tuple[ApiToken, str]:
    """Make a personal access token; the clear token is returned once and never stored."""
    token = new_token(API_TOKEN_PREFIX)
    row = ApiToken(agent_id=agent.id, name=name, token_hash=token_hash(token), prefix=token[:8])
    session.add(row)
    await session.flush()
    record(session, Actor.of(agent, via="cli"), "api_token.create", "api_token", row.id, {"name": name})
    return row, token


async def agent_for_api_token(session: AsyncSession, token: str) -> Agent | None:
    if not token.startswith(API_TOKEN_PREFIX) or len(token) > 128:
        return None
    row = await session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    agent = await session.get(Agent, row.agent_id)
    if agent is None or not agent.is_active:
        return None
    now = utcnow()
    if row.last_used_at is None or now - row.last_used_at > _TOUCH_EVERY:
        row.last_used_at = now
    return agent
