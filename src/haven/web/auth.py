"""Who is asking: the console's session cookie or the API's bearer token."""

from __future__ import annotations

from fastapi import Request
from sqlalchemy.ext.asyncio import AsyncSession

from haven.kit.actor import Actor
from haven.models import Agent
from haven.security.sessions import SESSION_COOKIE, agent_for_api_token, agent_for_session


class NotAuthenticated(Exception):
    """No valid credentials; pages redirect to the login page, the API answers 401."""


async def console_agent(session: AsyncSession, request: Request) -> Agent:
    """The agent signed in to the console, or NotAuthenticated."""
    agent = await agent_for_session(session, request.cookies.get(SESSION_COOKIE))
    if agent is None:
        raise NotAuthenticated
    return agent


async def console_actor(session: AsyncSession, request: Request) -> Actor:
    return Actor.of(await console_agent(session, request), via="console")


async def api_actor(session: AsyncSession, request: Request) -> Actor:
    scheme, _, token = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise NotAuthenticated
    agent = await agent_for_api_token(session, token.strip())
    if agent is None:
        raise NotAuthenticated
    return Actor.of(agent, via="api")
