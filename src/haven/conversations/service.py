"""Conversation commands: validate → mutate → audit → queue the realtime event."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.db import queue_event
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.kit.errors import Forbidden, Invalid
from haven.models import Agent, Conversation, ConversationStatus, Role
from haven.realtime.events import conversation_changed


async def assign(
    session: AsyncSession,
    actor: Actor,
    conversation: Conversation,
    assignee_id: int | None,
    *,
    reason: str | None = None,
) -> Conversation:
    """Give the conversation to an active agent of the same brand, or to nobody.

    An agent may take or pass on a conversation that is unassigned, theirs, or not yet opened by its
    assignee; once a colleague has picked it up, only a supervisor or admin reassigns it (else
    collision control could be bypassed by taking the conversation first).
    """
    if (
        actor.agent is not None
        and actor.agent.role is Role.AGENT
        and conversation.assignee_id not in (None, actor.agent.id)
        and conversation.picked_up_at is not None
    ):
        raise Forbidden("a colleague is working on this conversation; ask a supervisor to reassign it")
    assignee = None
    if assignee_id is not None:
        assignee = await session.scalar(
            select(Agent).where(
                Agent.id == assignee_id,
                Agent.brand_id == conversation.brand_id,
                Agent.is_active.is_(True),
            )
        )
        if assignee is None:
            raise Invalid("no such active agent")
    if conversation.assignee_id == assignee_id:
        return conversation
    conversation.assignee = assignee
    conversation.assignee_id = assignee_id
    now = utcnow()
    conversation.assigned_at = None if assignee_id is None else now
    # Taking a conversation yourself is picking it up; anyone else still has to open it.
    conversation.picked_up_at = now if assignee_id is not None and assignee_id == actor.agent_id else None
    record(
        session,
        actor,
        "conversation.assign",
        "conversation",
        conversation.id,
        {"assignee_id": assignee_id, **({"reason": reason} if reason else {})},
    )
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "assigned"))
    return conversation


async def resolve(session: AsyncSession, actor: Actor, conversation: Conversation) -> Conversation:
    if conversation.status is ConversationStatus.RESOLVED:
        return conversation
    conversation.status = ConversationStatus.RESOLVED
    conversation.resolved_at = utcnow()
    # The SLA clocks stop; a customer who writes again starts a new cycle (triage restarts them).
    conversation.waiting_since = None
    record(session, actor, "conversation.resolve", "conversation", conversation.id)
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "resolved"))
    return conversation


async def reopen(
    session: AsyncSession, actor: Actor, conversation: Conversation, *, reason: str | None = None
) -> Conversation:
    if conversation.status is ConversationStatus.OPEN:
        return conversation
    conversation.status = ConversationStatus.OPEN
    conversation.resolved_at = None
    record(
        session,
        actor,
        "conversation.reopen",
        "conversation",
        conversation.id,
        {"reason": reason} if reason else None,
    )
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "reopened"))
    return conversation


async def mark_picked_up(session: AsyncSession, actor: Actor, conversation: Conversation) -> None:
    """The assignee opened the conversation, so routing no longer takes it back (see ``triage.routing``)."""
    if conversation.picked_up_at is not None or actor.agent_id is None:
        return
    if conversation.assignee_id != actor.agent_id:
        return
    conversation.picked_up_at = utcnow()
    record(session, actor, "conversation.pick_up", "conversation", conversation.id)
    queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "picked_up"))
