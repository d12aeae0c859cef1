"""What the console shows: inbox rows with their triage and SLA clock, and the conversation page
(timeline with each message's triage, the triage panel, template suggestions, the composer's limits
and who may reply, the secure handoff).

Everything here is plain data for the templates, which escape it; nothing is marked safe.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.channels.capabilities import capabilities
from haven.conversations import repository
from haven.conversations.repository import ClockKind, IntentGuess, SlaClock, sla_clock
from haven.handoff.fields import FIELD_SPECS
from haven.handoff.forms import forms_of_conversation, may_reveal
from haven.handoff.invitations import problem_with
from haven.kit.actor import Actor
from haven.kit.clock import utcnow
from haven.models import (
    Agent,
    ChannelAccount,
    ChannelKind,
    Chat,
    ChatInvitation,
    ChatStatus,
    Conversation,
    Direction,
    Message,
    MessageTriage,
    Role,
    Visibility,
)
from haven.responses.service import suggest_templates
from haven.triage.intents import intent_label
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.pii.detect import PiiType
from haven.triage.policy import load_policy
from haven.triage.routing import open_loads
from haven.triage.sentiment import NEGATIVE_AT_MOST, POSITIVE_AT_LEAST
from haven.triage.sla import SlaStatus

#: How the console names each kind of private data, with its article.
PRIVATE_DATA_NAMES: dict[str, str] = {
    PiiType.CREDIT_CARD: "a card number",
    PiiType.IBAN_CODE: "an IBAN",
    PiiType.BANK_ACCOUNT: "a bank account number",
    PiiType.US_SSN: "a Social Security number",
    PiiType.PHONE_NUMBER: "a phone number",
    PiiType.EMAIL_ADDRESS: "an e-mail address",
}
#: Why a template is offered, as the picker says it (keys: ``Suggestion.reason``).
SUGGESTION_REASONS: dict[str, str] = {
    "private data": "the customer exposed private data",
    "intent": "fits the intent",
    "group": "fits the intent group",
    "": "for any conversation",
}


def percent(value: float) -> str:
    return f"{round(value * 100)} %"


def span(minutes: float) -> str:
    """A length of time as the console writes it (``static/console.js`` writes it the same way)."""
    whole = int(abs(minutes))
    if whole < 1:
        return "<1 min"
    if whole < 60:
        return f"{whole} min"
    hours, rest = divmod(whole, 60)
    if hours < 48:
        return f"{hours} h {rest} min" if rest else f"{hours} h"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h" if hours else f"{days} d"


def private_data_names(types: Sequence[str]) -> list[str]:
    return [PRIVATE_DATA_NAMES.get(kind, kind.replace("_", " ").lower()) for kind in types]


def language_name(code: str | None) -> str | None:
    return None if code is None else LANGUAGE_NAMES.get(code, code)


def sentiment_label(score: float) -> str:
    if score >= POSITIVE_AT_LEAST:
        return "positive"
    if score <= NEGATIVE_AT_MOST:
        return "negative"
    return "neutral"


@dataclass(frozen=True, slots=True)
class SlaView:
    """One SLA clock as the console shows it; the script counts ``due`` down live."""

    kind: ClockKind
    due: datetime
    status: SlaStatus
    text: str

    @classmethod
    def of(cls, clock: SlaClock, now: datetime) -> SlaView:
        """The text counts calendar time, as the console's live countdown does; the status is the
        SLA's own (business time when business hours apply)."""
        status = clock.state.status
        minutes = ((clock.done_at or now) - clock.due) / timedelta(minutes=1)
        texts = {
            SlaStatus.OK: f"{span(minutes)} left",
            SlaStatus.AT_RISK: f"at risk · {span(minutes)} left",
            SlaStatus.BREACHED: f"breached · {span(minutes)} late",
            SlaStatus.MET: "met",
        }
        return cls(clock.kind, clock.due, status, texts[status])

    @property
    def label(self) -> str:
        return "Reply" if self.kind is ClockKind.FIRST_RESPONSE else "Resolve"

    @property
    def running(self) -> bool:
        return self.status in (SlaStatus.OK, SlaStatus.AT_RISK)


@dataclass(frozen=True, slots=True)
class InboxRow:
    conversation: Conversation
    intent: IntentGuess | None
    sla: SlaView | None

    @property
    def intent_text(self) -> str | None:
        if self.intent is None:
            return None
        return f"{intent_label(self.intent.intent)} · {percent(self.intent.confidence)}"

    @property
    def language(self) -> str | None:
        return language_name(self.conversation.language)


async def inbox_rows(
    session: AsyncSession, agent: Agent, conversations: Sequence[Conversation], now: datetime | None = None
) -> list[InboxRow]:
    now = now or utcnow()
    policy = await load_policy(session, agent.brand_id)
    intents = await repository.latest_intents(session, [c.id for c in conversations])
    rows = []
    for conversation in conversations:
        clock = sla_clock(conversation, policy, now)
        sla = SlaView.of(clock, now) if clock is not None else None
        rows.append(InboxRow(conversation, intents.get(conversation.id), sla))
    return rows


async def agent_load(session: AsyncSession, agent: Agent) -> int:
    """How many open conversations the agent holds (the header shows it against their capacity)."""
    return (await open_loads(session, [agent.id])).get(agent.id, 0)


@dataclass(frozen=True, slots=True)
class TriagePanel:
    """What triage made of the conversation, from its latest inbound message and its own verdict."""

    conversation: Conversation
    latest: MessageTriage | None
    exposed: list[str]
    sla: SlaView | None

    @property
    def intent_text(self) -> str | None:
        triage = self.latest
        if triage is None:
            return None
        if triage.intent is None:
            best = f"best guess: {intent_label(triage.best_intent)}, {percent(triage.intent_confidence)}"
            return f"Not a banking request ({best})"
        return f"{intent_label(triage.intent)} · {percent(triage.intent_confidence)}"

    @property
    def sentiment(self) -> str | None:
        score = self.conversation.sentiment
        return None if score is None else f"{sentiment_label(score)} ({score:+.2f})"

    @property
    def language(self) -> str | None:
        return language_name(self.conversation.language)

    @property
    def warning(self) -> str | None:
        """The private-data warning; it names the kinds of data, never the values."""
        if not self.conversation.private_data_exposed:
            return None
        names = self.exposed or ["private data"]
        listed = names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"
        return (
            f"The customer exposed {listed} in public — the text is masked; advise them to delete the post."
        )


def _exposed_types(messages: Sequence[Message], triages: dict[int, MessageTriage]) -> list[str]:
    """The kinds of private data the customer's public posts showed, in a fixed order."""
    found = {
        kind
        for message in messages
        if message.visibility is Visibility.PUBLIC and message.id in triages
        for kind in triages[message.id].private_data
    }
    return private_data_names(sorted(found))


def _latest_inbound(messages: Sequence[Message], triages: dict[int, MessageTriage]) -> MessageTriage | None:
    inbound = [m for m in messages if m.direction is Direction.INBOUND and m.id in triages]
    return triages[max(inbound, key=lambda m: m.id).id] if inbound else None


def reply_locked_by(agent: Agent | None, conversation: Conversation) -> str | None:
    """Whose conversation keeps this agent from replying (collision control), or None.

    The same rule as ``messages.service.send_reply``: while a conversation is assigned, only its
    assignee or a supervisor or admin answers the customer; anyone may add an internal note.
    """
    if agent is None or agent.role is not Role.AGENT:
        return None
    if conversation.assignee_id in (None, agent.id):
        return None
    return conversation.assignee.display_name if conversation.assignee else "another agent"


@dataclass(frozen=True, slots=True)
class MessageBadges:
    """The small triage badges on an inbound message in the timeline."""

    intent: str
    priority: int
    language: str | None
    #: The kinds of private data masked in the text (a public post only: a DM is not masked).
    masked: list[str]

    @classmethod
    def of(cls, message: Message, triage: MessageTriage) -> MessageBadges:
        public = message.visibility is Visibility.PUBLIC
        return cls(
            intent=intent_label(triage.intent),
            priority=triage.priority,
            language=triage.language.upper() if triage.language else None,
            masked=private_data_names(triage.private_data) if public else [],
        )


async def timeline_context(session: AsyncSession, conversation: Conversation) -> dict[str, Any]:
    """The timeline and the triage panel: messages, what triage made of each inbound one and of
    the conversation."""
    messages = await repository.list_messages(session, conversation)
    triages = await repository.triage_of_messages(
        session, [m.id for m in messages if m.direction is Direction.INBOUND]
    )
    badges = {m.id: MessageBadges.of(m, triages[m.id]) for m in messages if m.id in triages}
    now = utcnow()
    clock = sla_clock(conversation, await load_policy(session, conversation.brand_id), now)
    panel = TriagePanel(
        conversation,
        _latest_inbound(messages, triages),
        _exposed_types(messages, triages),
        SlaView.of(clock, now) if clock is not None else None,
    )
    return {"conversation": conversation, "messages": messages, "badges": badges, "triage": panel}


async def conversation_context(
    session: AsyncSession,
    actor: Actor,
    conversation: Conversation,
    *,
    revealed: dict[int, dict[str, str]] | None = None,
) -> dict[str, Any]:
    timeline = await timeline_context(session, conversation)
    account = await session.get_one(ChannelAccount, conversation.channel_account_id)
    chats = (
        await session.scalars(select(Chat).where(Chat.conversation_id == conversation.id).order_by(Chat.id))
    ).all()
    live_chat = next((chat for chat in chats if chat.status is ChatStatus.LIVE), None)
    invitation = await session.scalar(
        select(ChatInvitation)
        .where(ChatInvitation.conversation_id == conversation.id)
        .order_by(ChatInvitation.id.desc())
        .limit(1)
    )
    agent = actor.agent
    assert agent is not None  # console pages are for signed-in agents
    return {
        **timeline,
        "agent": agent,
        "load": await agent_load(session, agent),
        "suggestions": await suggest_templates(session, conversation, agent),
        "suggestion_reasons": SUGGESTION_REASONS,
        "reply_locked_by": reply_locked_by(agent, conversation),
        "limits": {v.value: n for v, n in capabilities(account.kind).max_length.items()},
        "can_hand_off": account.kind is not ChannelKind.WEBCHAT and live_chat is None,
        "live_chat": live_chat,
        "invitation": invitation,
        "invitation_problem": problem_with(invitation) if invitation else None,
        "forms": await forms_of_conversation(session, conversation.id),
        "field_specs": list(FIELD_SPECS.values()),
        "may_reveal": may_reveal(agent),
        "revealed": revealed or {},
    }
