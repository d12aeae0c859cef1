"""Messages, and the outbox rows that carry outbound ones to their channel."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from haven.kit.clock import utcnow
from haven.models.agent import Agent
from haven.models.base import Base, str_enum


class Direction(enum.StrEnum):
    INBOUND = "inbound"
    OUTBOUND = "outbound"


class Visibility(enum.StrEnum):
    """Where a message may be seen. A private message must never travel a public path."""

    PUBLIC = "public"
    PRIVATE = "private"
    INTERNAL = "internal"


class DeliveryStatus(enum.StrEnum):
    RECEIVED = "received"
    QUEUED = "queued"
    SENT = "sent"
    FAILED = "failed"
    #: Internal notes never leave Haven.
    NOT_APPLICABLE = "not_applicable"


class Message(Base):
    __tablename__ = "message"
    __table_args__ = (
        UniqueConstraint("channel_account_id", "external_id"),
        Index("ix_message_conversation_created", "conversation_id", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    conversation_id: Mapped[int] = mapped_column(ForeignKey("conversation.id", ondelete="CASCADE"))
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id", ondelete="CASCADE"))
    direction: Mapped[Direction] = mapped_column(str_enum(Direction))
    visibility: Mapped[Visibility] = mapped_column(str_enum(Visibility))
    text: Mapped[str] = mapped_column(Text)
    author_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    #: The customer who wrote an inbound message (a thread may have bystanders too).
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contact.id", ondelete="SET NULL"))
    external_id: Mapped[str | None] = mapped_column(String(64), default=None)
    in_reply_to_external_id: Mapped[str | None] = mapped_column(String(64), default=None)
    delivery_status: Mapped[DeliveryStatus] = mapped_column(str_enum(DeliveryStatus))
    failure_reason: Mapped[str | None] = mapped_column(String(500), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(default=None)
    #: The secure chat that carried this message (None for messages on the social network).
    chat_id: Mapped[int | None] = mapped_column(ForeignKey("chat.id", ondelete="SET NULL"), default=None)

    author: Mapped[Agent | None] = relationship(lazy="joined")


class OutboxStatus(enum.StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class OutboxItem(Base):
    """A delivery to make. Written in the same transaction as its message (rule 1 of the house).

    A worker claims the row with a lease (``lease_token`` until ``lease_until``): a crashed worker's
    claim expires and another picks the row up, and a worker whose lease was taken over cannot record
    an outcome. ``uncertain`` is set when an attempt starts and cleared when X gives a definite answer;
    an attempt that finds it set must first look on X whether the message already landed.
    """

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_due", "status", "next_attempt_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), unique=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id", ondelete="CASCADE"))
    status: Mapped[OutboxStatus] = mapped_column(str_enum(OutboxStatus), default=OutboxStatus.PENDING)
    attempts: Mapped[int] = mapped_column(default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    lease_until: Mapped[datetime | None] = mapped_column(default=None)
    lease_token: Mapped[str | None] = mapped_column(String(32), default=None)
    uncertain: Mapped[bool] = mapped_column(default=False)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    message: Mapped[Message] = relationship(lazy="joined")
