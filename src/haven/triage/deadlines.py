"""SLA clocks on conversations: start a cycle, move deadlines with priority, catch breaches.

A cycle starts when a customer opens (or reopens) a conversation; the first response stops the
first-response clock, resolving stops both. A breach is recorded once per clock, audited, shown in
the inbox, and escalates the conversation to the brand's supervisors with a console alert.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import and_, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.alerts.service import raise_alert
from haven.audit.service import record
from haven.db import queue_event
from haven.kit.actor import SYSTEM
from haven.models import Conversation, ConversationStatus
from haven.realtime.events import conversation_changed
from haven.triage.policy import TriagePolicy, load_policy
from haven.triage.sla import due_times

SLA_BREACH_ALERT = "sla.breach"
#: At most this many breaches are recorded per pass (the next pass takes the rest).
PASS_LIMIT = 200


def start_cycle(conversation: Conversation, policy: TriagePolicy, started_at: datetime) -> None:
    conversation.waiting_since = started_at
    conversation.first_response_at = None
    conversation.first_response_breached_at = None
    conversation.resolution_breached_at = None
    conversation.escalated_at = None
    set_deadlines(conversation, policy)


def set_deadlines(conversation: Conversation, policy: TriagePolicy) -> None:
    """Deadlines for the conversation's current priority, counted from the start of its cycle."""
    if conversation.waiting_since is None:
        return
    due = due_times(conversation.waiting_since, conversation.priority, policy.targets, policy.hours)
    conversation.first_response_due = due.first_response_due
    conversation.resolution_due = due.resolution_due


def mark_first_response(conversation: Conversation, at: datetime) -> None:
    if conversation.waiting_since is not None and conversation.first_response_at is None:
        conversation.first_response_at = at


async def record_breaches(session: AsyncSession, now: datetime) -> int:
    """Record every clock that ran out since the last pass; returns how many."""
    first_response_late = and_(
        Conversation.first_response_at.is_(None),
        Conversation.first_response_breached_at.is_(None),
        Conversation.first_response_due < now,
    )
    resolution_late = and_(
        Conversation.resolution_breached_at.is_(None),
        Conversation.resolution_due < now,
    )
    late = (
        await session.scalars(
            select(Conversation)
            .where(
                Conversation.status == ConversationStatus.OPEN,
                Conversation.waiting_since.is_not(None),
                or_(first_response_late, resolution_late),
            )
            .order_by(Conversation.id)
            .limit(PASS_LIMIT)
            .with_for_update(skip_locked=True, of=Conversation)
        )
    ).all()
    for conversation in late:
        missed = []
        if (
            conversation.first_response_at is None
            and conversation.first_response_breached_at is None
            and conversation.first_response_due is not None
            and conversation.first_response_due < now
        ):
            conversation.first_response_breached_at = now
            missed.append("first response")
        if (
            conversation.resolution_breached_at is None
            and conversation.resolution_due is not None
            and conversation.resolution_due < now
        ):
            conversation.resolution_breached_at = now
            missed.append("resolution")
        record(
            session,
            SYSTEM,
            "sla.breach",
            "conversation",
            conversation.id,
            {"missed": missed, "priority": conversation.priority},
        )
        if conversation.escalated_at is None:
            conversation.escalated_at = now
            record(session, SYSTEM, "conversation.escalate", "conversation", conversation.id)
        await raise_alert(
            session,
            brand_id=conversation.brand_id,
            channel_account_id=None,
            kind=SLA_BREACH_ALERT,
            detail=(
                f"Conversation #{conversation.id} (P{conversation.priority}) missed its "
                f"{' and '.join(missed)} target and was escalated to supervisors."
            ),
        )
        queue_event(session, conversation_changed(conversation.brand_id, conversation.id, "sla"))
    return len(late)


async def restart_deadlines_for_policy(session: AsyncSession, brand_id: int) -> None:
    """After an admin changes targets or hours, open conversations follow the new policy."""
    policy = await load_policy(session, brand_id)
    open_ones = await session.scalars(
        select(Conversation).where(
            Conversation.brand_id == brand_id,
            Conversation.status == ConversationStatus.OPEN,
            Conversation.waiting_since.is_not(None),
        )
    )
    for conversation in open_ones:
        set_deadlines(conversation, policy)
