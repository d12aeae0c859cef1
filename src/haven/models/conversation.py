"""Conversations: one customer thread, with its status and owner."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import JSON, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from haven.kit.clock import utcnow
from haven.models.agent import Agent
from haven.models.base import Base, str_enum
from haven.models.contact import Contact


class ConversationStatus(enum.StrEnum):
    OPEN = "open"
    RESOLVED = "resolved"


class Conversation(Base):
    """A thread with one contact on one channel account.

    ``thread_key`` is the network's own thread id (X: the ``conversation_id`` of the first tweet),
    so every reply at any depth lands in the same conversation.
    """

    __tablename__ = "conversation"
    __table_args__ = (
        UniqueConstraint("channel_account_id", "thread_key"),
        Index("ix_conversation_status_last_message", "status", "last_message_at"),
        Index("ix_conversation_status_priority", "status", "priority"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    team_id: Mapped[int | None] = mapped_column(ForeignKey("team.id", ondelete="SET NULL"))
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"), index=True)
    status: Mapped[ConversationStatus] = mapped_column(
        str_enum(ConversationStatus), default=ConversationStatus.OPEN
    )
    thread_key: Mapped[str] = mapped_column(String(64))
    preview: Mapped[str] = mapped_column(String(280), default="")
    last_message_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    resolved_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The customer's satisfaction rating (1–5) and comment, given when a secure chat ended.
    csat_score: Mapped[int | None] = mapped_column(default=None)
    csat_comment: Mapped[str | None] = mapped_column(String(1000), default=None)
    csat_at: Mapped[datetime | None] = mapped_column(default=None)

    # Triage: the conversation carries its most urgent message's verdict while it is open.
    priority: Mapped[int] = mapped_column(default=3)
    priority_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    intent: Mapped[str | None] = mapped_column(String(64), default=None)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    sentiment: Mapped[float | None] = mapped_column(default=None)
    private_data_exposed: Mapped[bool] = mapped_column(default=False)

    # Routing: when the assignee got it and when they first opened it (else it goes back to the queue).
    assigned_at: Mapped[datetime | None] = mapped_column(default=None)
    picked_up_at: Mapped[datetime | None] = mapped_column(default=None)

    # SLA clocks. ``waiting_since`` starts when the customer opens or reopens the conversation.
    waiting_since: Mapped[datetime | None] = mapped_column(default=None)
    first_response_due: Mapped[datetime | None] = mapped_column(default=None)
    resolution_due: Mapped[datetime | None] = mapped_column(default=None)
    first_response_at: Mapped[datetime | None] = mapped_column(default=None)
    first_response_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    resolution_breached_at: Mapped[datetime | None] = mapped_column(default=None)
    #: When a breach escalated the conversation to the supervisors.
    escalated_at: Mapped[datetime | None] = mapped_column(default=None)

    contact: Mapped[Contact] = relationship(lazy="joined")
    assignee: Mapped[Agent | None] = relationship(lazy="joined")
