"""Pydantic shapes at the API's edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from haven.conversations.repository import ClockKind, sla_clock
from haven.models import (
    Agent,
    Availability,
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    Visibility,
)
from haven.triage.intents import IntentGroup, group_of, intent_label
from haven.triage.policy import TriagePolicy
from haven.triage.sla import SlaStatus


class MessageOut(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: int
    direction: Direction
    visibility: Visibility
    text: str
    external_id: str | None
    in_reply_to_external_id: str | None
    delivery_status: DeliveryStatus
    failure_reason: str | None
    author_agent_id: int | None
    created_at: datetime
    sent_at: datetime | None
    #: The secure chat that carried the message, if any.
    chat_id: int | None = None


class InvitationOut(BaseModel):
    """A secure-chat invitation, and the message that carried its link to the customer."""

    id: int
    expires_at: datetime
    #: How the link was sent: ``private`` (DM) or ``public`` (a reply).
    sent_as: Visibility
    message: MessageOut


class ContactOut(BaseModel):
    id: int
    display_name: str
    handles: list[str]


class SlaOut(BaseModel):
    """The SLA clock the conversation works against now: the first response until an agent
    answers, then the resolution (for a resolved conversation: whether it was resolved in time)."""

    clock: ClockKind
    due: datetime
    status: SlaStatus
    minutes_left: float = Field(
        description="Until the deadline (business minutes when business hours apply); negative once past it"
    )


class ConversationOut(BaseModel):
    id: int
    status: ConversationStatus
    channel_account_id: int
    thread_key: str
    preview: str
    contact: ContactOut
    assignee_id: int | None
    team_id: int | None
    last_message_at: datetime
    created_at: datetime
    priority: int = Field(description="1 (most urgent) to 4")
    priority_reasons: list[str]
    intent: str | None = Field(description="The latest banking intent (BANKING77 name); null when none")
    intent_label: str | None
    intent_group: IntentGroup | None
    language: str | None = Field(description="ISO 639-1 code")
    sentiment: float | None = Field(description="VADER compound score, -1 … 1")
    private_data_exposed: bool
    escalated_at: datetime | None
    first_response_due: datetime | None
    first_response_at: datetime | None
    resolution_due: datetime | None
    sla: SlaOut | None

    @classmethod
    def of(cls, conversation: Conversation, policy: TriagePolicy, now: datetime) -> ConversationOut:
        contact = conversation.contact
        clock = sla_clock(conversation, policy, now)
        intent = conversation.intent
        return cls(
            id=conversation.id,
            status=conversation.status,
            channel_account_id=conversation.channel_account_id,
            thread_key=conversation.thread_key,
            preview=conversation.preview,
            contact=ContactOut(
                id=contact.id,
                display_name=contact.display_name,
                handles=[f"@{identity.handle}" for identity in contact.identities],
            ),
            assignee_id=conversation.assignee_id,
            team_id=conversation.team_id,
            last_message_at=conversation.last_message_at,
            created_at=conversation.created_at,
            priority=conversation.priority,
            priority_reasons=list(conversation.priority_reasons),
            intent=intent,
            intent_label=intent_label(intent) if intent is not None else None,
            intent_group=group_of(intent) if intent is not None else None,
            language=conversation.language,
            sentiment=conversation.sentiment,
            private_data_exposed=conversation.private_data_exposed,
            escalated_at=conversation.escalated_at,
            first_response_due=conversation.first_response_due,
            first_response_at=conversation.first_response_at,
            resolution_due=conversation.resolution_due,
            sla=(
                None
                if clock is None
                else SlaOut(
                    clock=clock.kind,
                    due=clock.due,
                    status=clock.state.status,
                    minutes_left=round(clock.state.minutes_left, 1),
                )
            ),
        )


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]

    @classmethod
    def with_messages(
        cls, conversation: Conversation, messages: list[Message], policy: TriagePolicy, now: datetime
    ) -> ConversationDetail:
        return cls(
            **ConversationOut.of(conversation, policy, now).model_dump(),
            messages=[MessageOut.model_validate(m) for m in messages],
        )


class ConversationPage(BaseModel):
    data: list[ConversationOut]
    next_before_id: int | None = Field(
        description="Pass as before_id to fetch the next page; null on the last page."
    )


class ReplyIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, StringConstraints(min_length=1, max_length=10_000)]
    visibility: Visibility


class AssignIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    assignee_id: int | None


class ErrorOut(BaseModel):
    detail: str


class AvailabilityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    availability: Availability


class AgentStatusOut(BaseModel):
    """The agent's availability for routing, and their load against their capacity."""

    id: int
    availability: Availability
    capacity: int
    open_conversations: int

    @classmethod
    def of(cls, agent: Agent, load: int) -> AgentStatusOut:
        return cls(
            id=agent.id, availability=agent.availability, capacity=agent.capacity, open_conversations=load
        )
