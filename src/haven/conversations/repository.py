"""Every query about conversations and their messages, and the inbox's filters and SLA clocks."""

from __future__ import annotations

import enum
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import ColumnElement, Select, case, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.kit.errors import NotFound
from haven.models import Conversation, ConversationStatus, Message, MessageTriage
from haven.triage.intents import INTENT_GROUPS, INTENTS, IntentGroup
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.policy import TriagePolicy, load_policy
from haven.triage.sla import SlaState, SlaStatus, sla_state


class InboxView(enum.StrEnum):
    OPEN = "open"
    MINE = "mine"
    UNASSIGNED = "unassigned"
    RESOLVED = "resolved"


class InboxSort(enum.StrEnum):
    #: Most urgent priority first, then the nearest SLA deadline, then the latest activity.
    URGENT = "urgent"
    #: Latest activity first.
    NEWEST = "newest"


def default_sort(view: InboxView) -> InboxSort:
    """The Open view is the triage queue: most urgent first. The other views keep newest first."""
    return InboxSort.URGENT if view is InboxView.OPEN else InboxSort.NEWEST


class SlaFilter(enum.StrEnum):
    """The state of the SLA clock a conversation works against now (see ``sla_clock``)."""

    BREACHED = "breached"
    AT_RISK = "at_risk"


def _known_intent(value: str) -> str:
    if value not in INTENT_GROUPS:
        raise ValueError("unknown intent")
    return value


def _known_language(value: str) -> str:
    if value not in LANGUAGE_NAMES:
        raise ValueError(f"unknown language; use one of {', '.join(LANGUAGE_NAMES)}")
    return value


class InboxFilters(BaseModel):
    """The inbox's filters; every one is optional and they combine (all must hold)."""

    model_config = ConfigDict(frozen=True)

    priority: Annotated[int, Field(ge=1, le=4, description="1 (most urgent) to 4")] | None = None
    intent: (
        Annotated[str, Field(max_length=64, description="A BANKING77 intent"), AfterValidator(_known_intent)]
        | None
    ) = None
    intent_group: IntentGroup | None = None
    language: (
        Annotated[str, Field(max_length=8, description="ISO 639-1 code"), AfterValidator(_known_language)]
        | None
    ) = None
    sla: SlaFilter | None = None
    escalated: bool | None = None
    private_data: bool | None = None

    @classmethod
    def lenient(cls, params: Mapping[str, str]) -> tuple[InboxFilters, list[str]]:
        """The valid filters among ``params``, and one sentence per invalid one (which is ignored).

        Pages use this so that a stale link still shows the inbox; the API refuses bad values instead.
        """
        valid: dict[str, str] = {}
        problems: list[str] = []
        for name in cls.model_fields:
            raw = params.get(name)
            if not raw:
                continue
            try:
                cls.model_validate({name: raw})
            except ValidationError as exc:
                reason = str(exc.errors()[0]["msg"]).removeprefix("Value error, ")
                problems.append(f"The {name.replace('_', ' ')} filter was ignored: {reason}.")
            else:
                valid[name] = raw
        return cls.model_validate(valid), problems

    def as_params(self) -> dict[str, str]:
        """The filters that are set, as query parameters (for links that keep them)."""
        params: dict[str, str] = {}
        for name, value in self:
            if isinstance(value, bool):
                params[name] = "true" if value else "false"
            elif value is not None:
                params[name] = str(value)
        return params


NO_FILTERS = InboxFilters()


class ClockKind(enum.StrEnum):
    FIRST_RESPONSE = "first_response"
    RESOLUTION = "resolution"


@dataclass(frozen=True, slots=True)
class SlaClock:
    kind: ClockKind
    due: datetime
    #: When the clock stopped (a resolved conversation's resolution), else None.
    done_at: datetime | None
    state: SlaState


def sla_clock(conversation: Conversation, policy: TriagePolicy, now: datetime) -> SlaClock | None:
    """The SLA deadline the conversation works against now, and how it stands.

    The first response until an agent answers, then the resolution; a resolved conversation shows
    whether its resolution was in time. None before triage started the clocks, and for an open
    conversation whose cycle ended (an agent reopened it; the customer's next post starts a new one).
    """
    due: datetime | None
    done_at: datetime | None = None
    if conversation.status is ConversationStatus.RESOLVED:
        kind, due, done_at = ClockKind.RESOLUTION, conversation.resolution_due, conversation.resolved_at
        if done_at is None:
            return None
    elif conversation.waiting_since is None:
        return None
    elif conversation.first_response_at is None:
        kind, due = ClockKind.FIRST_RESPONSE, conversation.first_response_due
    else:
        kind, due = ClockKind.RESOLUTION, conversation.resolution_due
    if due is None:
        return None
    state = sla_state(
        now,
        due,
        done_at,
        started_at=conversation.waiting_since or conversation.created_at,
        hours=policy.targets.hours_for(conversation.priority, policy.hours),
    )
    return SlaClock(kind, due, done_at, state)


def _active_due() -> ColumnElement[datetime | None]:
    """SQL for the deadline of the clock ``sla_clock`` shows for an open conversation."""
    return case(
        (Conversation.first_response_at.is_(None), Conversation.first_response_due),
        else_=Conversation.resolution_due,
    )


def _running() -> ColumnElement[bool]:
    return (Conversation.status == ConversationStatus.OPEN) & Conversation.waiting_since.is_not(None)


def _breached(now: datetime) -> ColumnElement[bool]:
    late_resolution = (Conversation.status == ConversationStatus.RESOLVED) & (
        Conversation.resolved_at > Conversation.resolution_due
    )
    return or_(_running() & (_active_due() < now), late_resolution)


def _in_group(group: IntentGroup) -> ColumnElement[bool]:
    if group is IntentGroup.OTHER:
        return or_(Conversation.intent.is_(None), Conversation.intent.not_in(INTENTS))
    return Conversation.intent.in_([intent for intent, of in INTENT_GROUPS.items() if of is group])


def _conditions(filters: InboxFilters, now: datetime) -> list[ColumnElement[bool]]:
    """SQL for every filter but ``at_risk``, which needs each brand's business hours (see below)."""
    conditions: list[ColumnElement[bool]] = []
    if filters.priority is not None:
        conditions.append(Conversation.priority == filters.priority)
    if filters.intent is not None:
        conditions.append(Conversation.intent == filters.intent)
    if filters.intent_group is not None:
        conditions.append(_in_group(filters.intent_group))
    if filters.language is not None:
        conditions.append(Conversation.language == filters.language)
    if filters.sla is SlaFilter.BREACHED:
        conditions.append(_breached(now))
    if filters.escalated is not None:
        escalated = Conversation.escalated_at.is_not(None)
        conditions.append(escalated if filters.escalated else ~escalated)
    if filters.private_data is not None:
        conditions.append(Conversation.private_data_exposed.is_(filters.private_data))
    return conditions


#: What ``sla_clock`` reads, for judging many conversations without loading their contacts.
_CLOCK_COLUMNS = (
    Conversation.id,
    Conversation.status,
    Conversation.priority,
    Conversation.created_at,
    Conversation.waiting_since,
    Conversation.first_response_at,
    Conversation.first_response_due,
    Conversation.resolution_due,
    Conversation.resolved_at,
)


async def _at_risk_ids(
    session: AsyncSession, query: Select[Conversation], brand_id: int, now: datetime
) -> list[int]:
    """The conversations of ``query`` whose running clock is at risk.

    "At risk" is counted in business time when business hours apply, which SQL cannot do, so the
    running clocks not yet breached are read (their clock columns only) and judged here.
    """
    policy = await load_policy(session, brand_id)
    rows = await session.execute(
        query.where(_running(), _active_due() >= now).with_only_columns(*_CLOCK_COLUMNS)
    )
    return [
        row.id
        for row in rows
        # A transient instance, never added to the session: only sla_clock reads it.
        if (clock := sla_clock(Conversation(**row._asdict()), policy, now)) is not None
        and clock.state.status is SlaStatus.AT_RISK
    ]


def _brand_scope(actor: Actor) -> Select[Conversation]:
    if actor.agent is None:
        raise NotFound("conversation not found")
    return select(Conversation).where(Conversation.brand_id == actor.agent.brand_id)


async def access_conversation(session: AsyncSession, actor: Actor, conversation_id: int) -> Conversation:
    """Fetch a conversation the actor may see. Others' conversations are simply not found."""
    conversation = await session.scalar(_brand_scope(actor).where(Conversation.id == conversation_id))
    if conversation is None:
        raise NotFound("conversation not found")
    return conversation


def _in_view(query: Select[Conversation], view: InboxView, actor: Actor) -> Select[Conversation]:
    if view is InboxView.RESOLVED:
        query = query.where(Conversation.status == ConversationStatus.RESOLVED)
    else:
        query = query.where(Conversation.status == ConversationStatus.OPEN)
    if view is InboxView.MINE:
        query = query.where(Conversation.assignee_id == actor.agent_id)
    elif view is InboxView.UNASSIGNED:
        query = query.where(Conversation.assignee_id.is_(None))
    return query


async def list_conversations(
    session: AsyncSession,
    actor: Actor,
    *,
    view: InboxView = InboxView.OPEN,
    filters: InboxFilters = NO_FILTERS,
    sort: InboxSort = InboxSort.NEWEST,
    limit: int = 50,
    before_id: int | None = None,
    by_id: bool = False,
    now: datetime | None = None,
) -> Sequence[Conversation]:
    """The actor's brand's conversations in a view, filtered and sorted.

    ``by_id`` orders by id instead of ``sort``, for stable pages with ``before_id``.
    """
    now = now or utcnow()
    query = _in_view(_brand_scope(actor), view, actor).where(*_conditions(filters, now))
    if filters.sla is SlaFilter.AT_RISK:
        assert actor.agent is not None  # _brand_scope refused anyone else
        query = query.where(
            Conversation.id.in_(await _at_risk_ids(session, query, actor.agent.brand_id, now))
        )
    if before_id is not None:
        query = query.where(Conversation.id < before_id)
    if by_id:
        query = query.order_by(Conversation.id.desc())
    elif sort is InboxSort.URGENT:
        due = _active_due()
        query = query.order_by(
            Conversation.priority,
            case((due.is_(None), 1), else_=0),
            due,
            Conversation.last_message_at.desc(),
            Conversation.id.desc(),
        )
    else:
        query = query.order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
    return (await session.scalars(query.limit(limit))).unique().all()


@dataclass(frozen=True, slots=True)
class IntentGuess:
    intent: str
    confidence: float


async def latest_intents(session: AsyncSession, conversation_ids: Collection[int]) -> dict[int, IntentGuess]:
    """Each conversation's latest in-scope intent and the model's confidence in it.

    The conversation's ``intent`` is the one its latest in-scope message gave (triage runs in
    message order), so the highest message id with an intent holds the matching confidence.
    """
    if not conversation_ids:
        return {}
    latest = (
        select(func.max(Message.id))
        .join(MessageTriage, MessageTriage.message_id == Message.id)
        .where(Message.conversation_id.in_(conversation_ids), MessageTriage.intent.is_not(None))
        .group_by(Message.conversation_id)
    )
    rows = await session.execute(
        select(Message.conversation_id, MessageTriage.intent, MessageTriage.intent_confidence)
        .join(MessageTriage, MessageTriage.message_id == Message.id)
        .where(Message.id.in_(latest))
    )
    return {
        conversation_id: IntentGuess(intent, confidence)
        for conversation_id, intent, confidence in rows
        if intent is not None
    }


async def list_messages(session: AsyncSession, conversation: Conversation) -> Sequence[Message]:
    query = (
        select(Message)
        .where(Message.conversation_id == conversation.id)
        .order_by(Message.created_at, Message.id)
    )
    return (await session.scalars(query)).unique().all()


async def triage_of_messages(session: AsyncSession, message_ids: Collection[int]) -> dict[int, MessageTriage]:
    """What triage learned about each of these messages (inbound ones have it), by message id."""
    if not message_ids:
        return {}
    rows = await session.scalars(select(MessageTriage).where(MessageTriage.message_id.in_(message_ids)))
    return {triage.message_id: triage for triage in rows}


async def conversation_for_thread(
    session: AsyncSession, *, channel_account_id: int, thread_key: str
) -> Conversation | None:
    return await session.scalar(
        select(Conversation).where(
            Conversation.channel_account_id == channel_account_id,
            Conversation.thread_key == thread_key,
        )
    )


async def open_conversation_of_contact(
    session: AsyncSession, *, channel_account_id: int, contact_id: int
) -> Conversation | None:
    """The contact's most recently active open conversation on this account, if any."""
    return await session.scalar(
        select(Conversation)
        .where(
            Conversation.channel_account_id == channel_account_id,
            Conversation.contact_id == contact_id,
            Conversation.status == ConversationStatus.OPEN,
        )
        .order_by(Conversation.last_message_at.desc(), Conversation.id.desc())
        .limit(1)
    )
