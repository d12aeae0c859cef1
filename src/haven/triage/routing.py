"""Routing: which team a conversation belongs to, and which of its agents gets it.

A team matches a conversation when every skill it lists covers it (languages, intent groups; an
empty list covers everything); the most specific matching team wins. Within the team, only agents
who are active, online and under their capacity take conversations: round robin gives it to the one
who waited longest since their last one, least-loaded to the one with the fewest open conversations.
Nobody available: the conversation waits in the team's queue, and the routing pass hands it out as
soon as someone is. An assignment nobody opens within the brand's pickup time goes back to the queue.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Sequence
from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.conversations.service import assign
from haven.kit.actor import SYSTEM
from haven.kit.clock import utcnow
from haven.models import Agent, Availability, Brand, Conversation, ConversationStatus, RoutingMode, Team
from haven.triage.intents import group_of
from haven.triage.policy import load_policy

log = logging.getLogger(__name__)

#: At most this many queued conversations are handed out per pass (the next pass takes the rest).
PASS_LIMIT = 200
_NEVER = datetime.min.replace(tzinfo=UTC)


def _specificity(team: Team, conversation: Conversation) -> int | None:
    """How closely the team's skills fit the conversation, or None when they exclude it."""
    score = 0
    if team.languages:
        if conversation.language not in team.languages:
            return None
        score += 2
    if team.intent_groups:
        if group_of(conversation.intent).value not in team.intent_groups:
            return None
        score += 1
    return score


def choose_team(teams: Sequence[Team], conversation: Conversation) -> Team | None:
    scored = [
        (score, -team.id, team) for team in teams if (score := _specificity(team, conversation)) is not None
    ]
    return max(scored, key=lambda item: item[:2])[2] if scored else None


async def open_loads(session: AsyncSession, agent_ids: Collection[int]) -> dict[int, int]:
    """How many open conversations each agent holds."""
    if not agent_ids:
        return {}
    rows = await session.execute(
        select(Conversation.assignee_id, func.count())
        .where(Conversation.assignee_id.in_(agent_ids), Conversation.status == ConversationStatus.OPEN)
        .group_by(Conversation.assignee_id)
    )
    return {agent_id: count for agent_id, count in rows if agent_id is not None}


async def pick_agent(session: AsyncSession, team: Team, *, exclude: Collection[int] = ()) -> Agent | None:
    candidates = [
        agent
        for agent in team.members
        if agent.is_active and agent.availability is Availability.ONLINE and agent.id not in exclude
    ]
    loads = await open_loads(session, [agent.id for agent in candidates])
    free = [agent for agent in candidates if loads.get(agent.id, 0) < agent.capacity]
    if not free:
        return None
    if team.routing_mode is RoutingMode.ROUND_ROBIN:
        return min(free, key=lambda agent: (agent.last_assigned_at or _NEVER, agent.id))
    return min(free, key=lambda agent: (loads.get(agent.id, 0), agent.last_assigned_at or _NEVER, agent.id))


async def brand_teams(session: AsyncSession, brand_id: int) -> Sequence[Team]:
    return (await session.scalars(select(Team).where(Team.brand_id == brand_id).order_by(Team.id))).all()


async def route(
    session: AsyncSession,
    conversation: Conversation,
    *,
    exclude: Collection[int] = (),
    teams: Sequence[Team] | None = None,
) -> Agent | None:
    """Put the conversation in its team's queue and give it to an available agent, if any."""
    if teams is None:
        teams = await brand_teams(session, conversation.brand_id)
    team = choose_team(teams, conversation)
    if team is None:
        return None
    conversation.team_id = team.id
    agent = await pick_agent(session, team, exclude=exclude)
    if agent is None:
        return None
    await assign(session, SYSTEM, conversation, agent.id, reason=f"routed to team {team.name}")
    agent.last_assigned_at = utcnow()
    return agent


async def requeue_unpicked(session: AsyncSession, now: datetime) -> int:
    """Take back assignments nobody opened in time and route them to someone else.

    Brand by brand, since each has its own pickup time: the cutoff is in the query, so conversations
    not yet due never crowd out those that are.
    """
    requeued = 0
    for brand_id in (await session.scalars(select(Brand.id).order_by(Brand.id))).all():
        policy = await load_policy(session, brand_id)
        overdue = (
            await session.scalars(
                select(Conversation)
                .where(
                    Conversation.brand_id == brand_id,
                    Conversation.status == ConversationStatus.OPEN,
                    Conversation.assignee_id.is_not(None),
                    Conversation.picked_up_at.is_(None),
                    Conversation.assigned_at <= now - timedelta(minutes=policy.pickup_minutes),
                )
                .order_by(Conversation.assigned_at)
                .limit(PASS_LIMIT)
                .with_for_update(skip_locked=True, of=Conversation)
            )
        ).all()
        for conversation in overdue:
            previous = conversation.assignee_id
            await assign(
                session,
                SYSTEM,
                conversation,
                None,
                reason=f"not opened within {policy.pickup_minutes} minutes",
            )
            await route(session, conversation, exclude=() if previous is None else (previous,))
            requeued += 1
    return requeued


async def assign_queued(session: AsyncSession) -> int:
    """Hand queued conversations to available agents, most urgent and longest waiting first."""
    queued = (
        await session.scalars(
            select(Conversation)
            .where(Conversation.status == ConversationStatus.OPEN, Conversation.assignee_id.is_(None))
            .order_by(Conversation.priority, Conversation.waiting_since, Conversation.id)
            .limit(PASS_LIMIT)
            .with_for_update(skip_locked=True, of=Conversation)
        )
    ).all()
    assigned = 0
    teams: dict[int, Sequence[Team]] = {}
    for conversation in queued:
        if conversation.brand_id not in teams:
            teams[conversation.brand_id] = await brand_teams(session, conversation.brand_id)
        if await route(session, conversation, teams=teams[conversation.brand_id]) is not None:
            assigned += 1
    return assigned
