"""Pydantic shapes at the API's edge."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from haven.models import (
    Conversation,
    ConversationStatus,
    DeliveryStatus,
    Direction,
    Message,
    Visibility,
)


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


class ConversationOut(BaseModel):
    id: int
    status: ConversationStatus
    channel_account_id: int
    thread_key: str
    preview: str
    contact: ContactOut
    assignee_id: int | None
    last_message_at: datetime
    created_at: datetime

    @classmethod
    def of(cls, conversation: Conversation) -> ConversationOut:
        contact = conversation.contact
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
            last_message_at=conversation.last_message_at,
            created_at=conversation.created_at,
        )


class ConversationDetail(ConversationOut):
    messages: list[MessageOut]

    @classmethod
    def with_messages(cls, conversation: Conversation, messages: list[Message]) -> ConversationDetail:
        return cls(
            **ConversationOut.of(conversation).model_dump(),
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
