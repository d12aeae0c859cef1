"""Routing to teams and agents, re-queueing, collision control, and SLA clocks with breaches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from haven.agents.service import create_agent
from haven.conversations.service import assign, resolve
from haven.kit.actor import SYSTEM, Actor
from haven.kit.clock import utcnow
from haven.kit.errors import Forbidden
from haven.messages.service import send_reply
from haven.models import (
    Agent,
    Alert,
    AuditEntry,
    Availability,
    Conversation,
    RoutingMode,
    Team,
    TriageSettings,
    Visibility,
)
from haven.runtime import Runtime
from haven.triage.deadlines import SLA_BREACH_ALERT, record_breaches
from haven.triage.routing import assign_queued, requeue_unpicked
from tests.factories import PASSWORD, World, another_agent, inbound_conversation, next_id

SPANISH = "@ExampleBankHelp hola, mi tarjeta no ha llegado todavía, ¿qué puedo hacer?"
ENGLISH = "@ExampleBankHelp my new card still hasn't arrived, what can I do?"


async def _agent(runtime: Runtime, world: World, team: Team, name: str, **fields: object) -> Agent:
    async with runtime.database.unit_of_work() as session:
        team = await session.get_one(Team, team.id)
        agent = await create_agent(
            session,
            brand_id=world.brand.id,
            email=f"{name}-{next_id()[-6:]}@bank.example",
            display_name=name.title(),
            password=PASSWORD,
            teams=[team],
        )
        agent.availability = Availability.ONLINE
        for key, value in fields.items():
            setattr(agent, key, value)
    return agent


async def _team(runtime: Runtime, world: World, name: str, **skills: object) -> Team:
    async with runtime.database.unit_of_work() as session:
        team = Team(brand_id=world.brand.id, name=name, **skills)
        session.add(team)
    return team


async def _assignee(runtime: Runtime, conversation_id: int) -> int | None:
    async with runtime.database.reader() as session:
        return (await session.get_one(Conversation, conversation_id)).assignee_id


async def test_the_language_team_gets_its_language(runtime: Runtime, world: World) -> None:
    spanish_desk = await _team(runtime, world, "Spanish desk", languages=["es"])
    lucia = await _agent(runtime, world, spanish_desk, "lucia")
    general = await _agent(runtime, world, world.team, "gus")
    spanish = await inbound_conversation(runtime, world, text=SPANISH)
    english = await inbound_conversation(runtime, world, text=ENGLISH)
    assert await _assignee(runtime, spanish) == lucia.id
    assert await _assignee(runtime, english) == general.id
    async with runtime.database.reader() as session:
        assert (await session.get_one(Conversation, spanish)).team_id == spanish_desk.id


async def test_the_intent_group_team_is_more_specific(runtime: Runtime, world: World) -> None:
    fraud = await _team(runtime, world, "Fraud", intent_groups=["security"])
    fiona = await _agent(runtime, world, fraud, "fiona")
    await _agent(runtime, world, world.team, "gus")
    conversation_id = await inbound_conversation(
        runtime, world, text="@ExampleBankHelp my card was stolen last night, please block it"
    )
    assert await _assignee(runtime, conversation_id) == fiona.id


async def test_nobody_online_queues_until_someone_is(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    assert await _assignee(runtime, conversation_id) is None  # the team's agents are away
    async with runtime.database.unit_of_work() as session:
        await session.execute(
            update(Agent).where(Agent.id == world.agent.id).values(availability=Availability.ONLINE)
        )
    async with runtime.database.unit_of_work() as session:
        assert await assign_queued(session) == 1
    assert await _assignee(runtime, conversation_id) == world.agent.id


async def test_capacity_is_respected_and_least_loaded_balances(runtime: Runtime, world: World) -> None:
    team = await _team(runtime, world, "Cards", intent_groups=["cards"])
    ann = await _agent(runtime, world, team, "ann", capacity=1)
    bob = await _agent(runtime, world, team, "bob", capacity=1)
    ids = [await inbound_conversation(runtime, world, text=ENGLISH) for _ in range(3)]
    assignees = [await _assignee(runtime, conversation_id) for conversation_id in ids]
    assert sorted(a for a in assignees if a is not None) == sorted([ann.id, bob.id])
    assert assignees.count(None) == 1


async def test_round_robin_takes_turns(runtime: Runtime, world: World) -> None:
    team = await _team(
        runtime, world, "Cards RR", intent_groups=["cards"], routing_mode=RoutingMode.ROUND_ROBIN
    )
    ann = await _agent(runtime, world, team, "ann")
    bob = await _agent(runtime, world, team, "bob")
    ids = [await inbound_conversation(runtime, world, text=ENGLISH) for _ in range(4)]
    assignees = [await _assignee(runtime, conversation_id) for conversation_id in ids]
    assert assignees == [ann.id, bob.id, ann.id, bob.id]


async def test_an_unopened_assignment_goes_to_someone_else(runtime: Runtime, world: World) -> None:
    team = await _team(runtime, world, "Cards", intent_groups=["cards"])
    ann = await _agent(runtime, world, team, "ann")
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    assert await _assignee(runtime, conversation_id) == ann.id
    bob = await _agent(runtime, world, team, "bob")
    async with runtime.database.unit_of_work() as session:
        assert await requeue_unpicked(session, utcnow()) == 0  # still within the pickup time
    async with runtime.database.unit_of_work() as session:
        assert await requeue_unpicked(session, utcnow() + timedelta(minutes=6)) == 1
    assert await _assignee(runtime, conversation_id) == bob.id
    async with runtime.database.reader() as session:
        reasons = (
            await session.scalars(
                select(AuditEntry.details).where(
                    AuditEntry.action == "conversation.assign", AuditEntry.object_id == str(conversation_id)
                )
            )
        ).all()
    assert any("not opened within 5 minutes" in str(details) for details in reasons)


async def test_only_the_assignee_or_a_supervisor_replies(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    other = await another_agent(runtime, world, "Olly")
    async with runtime.database.unit_of_work() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        agent = await session.get_one(Agent, world.agent.id)
        await send_reply(session, Actor.of(agent), conversation, text="On it", visibility=Visibility.PUBLIC)
    with pytest.raises(Forbidden, match="assigned to Alex Agent"):
        async with runtime.database.unit_of_work() as session:
            conversation = await session.get_one(Conversation, conversation_id)
            olly = await session.get_one(Agent, other.id)
            await send_reply(
                session, Actor.of(olly), conversation, text="Me too", visibility=Visibility.PUBLIC
            )
    async with runtime.database.unit_of_work() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        olly = await session.get_one(Agent, other.id)
        await send_reply(session, Actor.of(olly), conversation, text="a note", visibility=Visibility.INTERNAL)
        supervisor = await session.get_one(Agent, world.supervisor.id)
        await send_reply(
            session, Actor.of(supervisor), conversation, text="Supervisor here", visibility=Visibility.PUBLIC
        )


async def test_a_missed_first_response_is_a_breach_and_escalates(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    async with runtime.database.reader() as session:
        due = (await session.get_one(Conversation, conversation_id)).first_response_due
    assert due is not None
    async with runtime.database.unit_of_work() as session:
        assert await record_breaches(session, due - timedelta(seconds=1)) == 0
    async with runtime.database.unit_of_work() as session:
        assert await record_breaches(session, due + timedelta(seconds=1)) == 1
    async with runtime.database.unit_of_work() as session:
        assert await record_breaches(session, due + timedelta(seconds=2)) == 0  # recorded once
        conversation = await session.get_one(Conversation, conversation_id)
        assert conversation.first_response_breached_at is not None
        assert conversation.escalated_at is not None
        alert = await session.scalar(select(Alert).where(Alert.kind == SLA_BREACH_ALERT))
        assert alert is not None and f"#{conversation_id}" in alert.detail
        actions = (
            await session.scalars(
                select(AuditEntry.action).where(AuditEntry.object_id == str(conversation_id))
            )
        ).all()
    assert "sla.breach" in actions and "conversation.escalate" in actions


async def test_a_first_response_stops_its_clock(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    async with runtime.database.unit_of_work() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        agent = await session.get_one(Agent, world.agent.id)
        await send_reply(
            session, Actor.of(agent), conversation, text="Looking now", visibility=Visibility.PUBLIC
        )
        due = conversation.first_response_due
        assert conversation.first_response_at is not None
    assert due is not None
    async with runtime.database.unit_of_work() as session:
        assert await record_breaches(session, due + timedelta(seconds=1)) == 0


async def test_resolving_stops_the_clocks(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    async with runtime.database.unit_of_work() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        await resolve(session, SYSTEM, conversation)
        assert conversation.waiting_since is None
    async with runtime.database.unit_of_work() as session:
        assert await record_breaches(session, utcnow() + timedelta(days=30)) == 0


async def test_an_agent_cannot_take_what_a_colleague_opened(runtime: Runtime, world: World) -> None:
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    other = await another_agent(runtime, world, "Olly")
    async with runtime.database.unit_of_work() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        olly = await session.get_one(Agent, other.id)
        # Not yet opened by anyone: a colleague may take it.
        await assign(session, SYSTEM, conversation, world.agent.id)
        await assign(session, Actor.of(olly), conversation, olly.id)
    async with runtime.database.unit_of_work() as session:
        conversation = await session.get_one(Conversation, conversation_id)
        assert conversation.picked_up_at is not None  # taking it yourself is picking it up
        agent = await session.get_one(Agent, world.agent.id)
        with pytest.raises(Forbidden, match="ask a supervisor"):
            await assign(session, Actor.of(agent), conversation, agent.id)
        supervisor = await session.get_one(Agent, world.supervisor.id)
        await assign(session, Actor.of(supervisor), conversation, agent.id)
        assert conversation.assignee_id == world.agent.id


async def test_a_long_pickup_time_elsewhere_does_not_hold_up_requeueing(
    runtime: Runtime, world: World
) -> None:
    team = await _team(runtime, world, "Cards", intent_groups=["cards"])
    await _agent(runtime, world, team, "ann")
    conversation_id = await inbound_conversation(runtime, world, text=ENGLISH)
    async with runtime.database.unit_of_work() as session:
        session.add(
            TriageSettings(brand_id=world.other_brand.id, keep_exposed_originals=True, pickup_minutes=240)
        )
    async with runtime.database.unit_of_work() as session:
        assert await requeue_unpicked(session, utcnow() + timedelta(minutes=6)) == 1
    assert await _assignee(runtime, conversation_id) is None  # Ann was the only one; back in the queue
