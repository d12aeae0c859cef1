"""Admins' edits of teams: skills (languages, intent groups), routing mode, members and capacity.

Skills decide which conversations a team takes (see ``haven.triage.routing``); an agent's capacity
is how many open conversations routing gives them at once, across all their teams.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from haven.audit.service import record
from haven.kit.actor import Actor
from haven.kit.errors import NotFound
from haven.kit.validation import FormInvalid, clean_name, small_int
from haven.models import Agent, RoutingMode, Team
from haven.triage.intents import IntentGroup
from haven.triage.language import LANGUAGE_NAMES

MAX_NAME_LENGTH = 100
MIN_CAPACITY = 1
MAX_CAPACITY = 50


@dataclass(frozen=True, slots=True)
class TeamDraft:
    """A team as the form (or the demo seed) gives it, not yet checked."""

    name: str
    languages: Sequence[str] = ()
    intent_groups: Sequence[str] = ()
    routing_mode: str = RoutingMode.LEAST_LOADED.value
    member_ids: Sequence[str] = ()
    #: Agent id → new capacity, as typed; agents left out keep theirs.
    capacities: Mapping[int, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _CheckedTeam:
    name: str
    languages: list[str]
    intent_groups: list[str]
    routing_mode: RoutingMode
    members: list[Agent]
    capacities: list[tuple[Agent, int]]


async def brand_agents(session: AsyncSession, brand_id: int) -> Sequence[Agent]:
    return (
        await session.scalars(select(Agent).where(Agent.brand_id == brand_id).order_by(Agent.display_name))
    ).all()


# A team loaded through an agent's ``teams`` may not have its members loaded (eager loading stops at
# the cycle), and an async session cannot load them later: load them, even for teams already known.
_WITH_MEMBERS = (selectinload(Team.members),)


async def list_teams(session: AsyncSession, brand_id: int) -> Sequence[Team]:
    return (
        await session.scalars(
            select(Team)
            .where(Team.brand_id == brand_id)
            .order_by(Team.name)
            .options(*_WITH_MEMBERS)
            .execution_options(populate_existing=True)
        )
    ).all()


async def access_team(session: AsyncSession, brand_id: int, team_id: int) -> Team:
    """The brand's team; another brand's team is as unknown as a missing one."""
    team = await session.get(Team, team_id, options=_WITH_MEMBERS, populate_existing=True)
    if team is None or team.brand_id != brand_id:
        raise NotFound("no such team")
    return team


def _choices(values: Sequence[str], known: Sequence[str], label: str, problems: list[str]) -> list[str]:
    unknown = [value for value in values if value not in known]
    if unknown:
        shown = ", ".join(repr(value[:20]) for value in unknown[:5])
        problems.append(f"{label}: unknown {shown}; choose from {', '.join(known)}")
    return list(dict.fromkeys(value for value in values if value in known))


async def _check(
    session: AsyncSession, brand_id: int, draft: TeamDraft, *, team_id: int | None
) -> _CheckedTeam:
    problems: list[str] = []
    name = clean_name(draft.name, label="Name", max_length=MAX_NAME_LENGTH, problems=problems)
    teams = await list_teams(session, brand_id)
    if any(team.name.casefold() == name.casefold() and team.id != team_id for team in teams):
        problems.append(f"Name: the brand has a team called {name!r} already")
    languages = _choices(draft.languages, list(LANGUAGE_NAMES), "Languages", problems)
    groups = _choices(draft.intent_groups, [group.value for group in IntentGroup], "Intent groups", problems)
    try:
        routing_mode = RoutingMode(draft.routing_mode)
    except ValueError:
        problems.append(f"Routing: choose {' or '.join(mode.value for mode in RoutingMode)}")
        routing_mode = RoutingMode.LEAST_LOADED
    agents = {agent.id: agent for agent in await brand_agents(session, brand_id)}
    typed_ids = [small_int(value) for value in draft.member_ids]
    member_ids = sorted({agent_id for agent_id in typed_ids if agent_id is not None and agent_id in agents})
    if len(member_ids) != len(set(typed_ids)):
        problems.append("Members: only the brand's agents can be members")
    capacities: list[tuple[Agent, int]] = []
    for agent_id, typed in draft.capacities.items():
        agent = agents.get(agent_id)
        if agent is None:
            problems.append("Capacity: only the brand's agents have a capacity here")
            continue
        value = small_int(typed)
        if value is None or not MIN_CAPACITY <= value <= MAX_CAPACITY:
            problems.append(
                f"Capacity of {agent.display_name}: a whole number from {MIN_CAPACITY} to {MAX_CAPACITY}"
            )
        else:
            capacities.append((agent, value))
    if problems:
        raise FormInvalid(problems)
    return _CheckedTeam(
        name=name,
        languages=languages,
        intent_groups=groups,
        routing_mode=routing_mode,
        members=[agents[agent_id] for agent_id in member_ids],
        capacities=capacities,
    )


def _apply(team: Team, checked: _CheckedTeam) -> None:
    team.name = checked.name
    team.languages = checked.languages
    team.intent_groups = checked.intent_groups
    team.routing_mode = checked.routing_mode
    team.members = checked.members


def _details(team: Team) -> dict[str, object]:
    return {
        "name": team.name,
        "languages": team.languages,
        "intent_groups": team.intent_groups,
        "routing_mode": team.routing_mode.value,
        "members": sorted(agent.id for agent in team.members),
    }


def _set_capacities(session: AsyncSession, actor: Actor, capacities: list[tuple[Agent, int]]) -> None:
    for agent, capacity in capacities:
        if capacity != agent.capacity:
            record(
                session, actor, "agent.capacity", "agent", agent.id, {"from": agent.capacity, "to": capacity}
            )
            agent.capacity = capacity


async def create_team(session: AsyncSession, actor: Actor, brand_id: int, draft: TeamDraft) -> Team:
    checked = await _check(session, brand_id, draft, team_id=None)
    team = Team(brand_id=brand_id, name=checked.name)
    _apply(team, checked)
    session.add(team)
    await session.flush()
    record(session, actor, "team.create", "team", team.id, _details(team))
    _set_capacities(session, actor, checked.capacities)
    return team


async def update_team(session: AsyncSession, actor: Actor, team: Team, draft: TeamDraft) -> Team:
    checked = await _check(session, team.brand_id, draft, team_id=team.id)
    _apply(team, checked)
    record(session, actor, "team.update", "team", team.id, _details(team))
    _set_capacities(session, actor, checked.capacities)
    return team


async def delete_team(session: AsyncSession, actor: Actor, team: Team) -> None:
    """Remove the team; its conversations lose their team and routing finds them another."""
    record(session, actor, "team.delete", "team", team.id, {"name": team.name})
    await session.delete(team)
