"""The secure handoff: invitations to a verified chat, the chats themselves, their events and forms.

An invitation's token is shown once (in the link) and stored only as its SHA-256. A chat's customer
is recognised by a second random token in an HttpOnly cookie, also stored hashed. Everything the
customer types into a secure form is stored encrypted (``security.crypto``), with a masked copy for
agents without the reveal permission.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.kit.clock import utcnow
from haven.models.base import Base, str_enum


class InvitationStatus(enum.StrEnum):
    #: Sent; the customer has not yet proven who they are.
    PENDING = "pending"
    #: The customer proved who they are: the chat exists and the link is spent.
    USED = "used"
    #: Too many failed verification attempts; the agent must invite again.
    LOCKED = "locked"
    #: A newer invitation for the same conversation replaced this one.
    REPLACED = "replaced"


class VerificationMethod(enum.StrEnum):
    ONE_TIME_CODE = "one_time_code"
    OPENID_CONNECT = "openid_connect"


class ChatInvitation(Base):
    __tablename__ = "chat_invitation"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    #: The customer's X user id: the verified person must be the one the bank links to it.
    x_user_id: Mapped[str] = mapped_column(String(64))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    created_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    status: Mapped[InvitationStatus] = mapped_column(
        str_enum(InvitationStatus), default=InvitationStatus.PENDING
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    used_at: Mapped[datetime | None] = mapped_column(default=None)
    failed_attempts: Mapped[int] = mapped_column(default=0)
    #: HMAC of the one-time code last sent, its expiry, and how many codes were sent.
    code_hmac: Mapped[str | None] = mapped_column(String(64), default=None)
    code_expires_at: Mapped[datetime | None] = mapped_column(default=None)
    codes_sent: Mapped[int] = mapped_column(default=0)
    #: The directory customer the code was sent to (the code proves this customer, nobody else).
    code_customer_id: Mapped[str | None] = mapped_column(String(100), default=None)
    #: OpenID Connect state, nonce and PKCE verifier between redirect and callback, encrypted.
    oidc_pending_encrypted: Mapped[str | None] = mapped_column(Text, default=None)


class ChatStatus(enum.StrEnum):
    LIVE = "live"
    ENDED = "ended"


class Chat(Base):
    """A verified customer's private chat. Its messages live in the conversation's timeline."""

    __tablename__ = "chat"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("chat_invitation.id", ondelete="CASCADE"), unique=True
    )
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"))
    customer_token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    verified_by: Mapped[VerificationMethod] = mapped_column(str_enum(VerificationMethod))
    #: The bank's reference for the verified customer (from its directory).
    directory_customer_id: Mapped[str] = mapped_column(String(100))
    status: Mapped[ChatStatus] = mapped_column(str_enum(ChatStatus), default=ChatStatus.LIVE)
    #: The last event's sequence number; bumped under the row's lock, so events commit in order.
    last_seq: Mapped[int] = mapped_column(default=0)
    started_at: Mapped[datetime] = mapped_column(default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(default=None)
    ended_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))


class ChatEventKind(enum.StrEnum):
    MESSAGE = "message"
    FORM_REQUESTED = "form_requested"
    FORM_SUBMITTED = "form_submitted"
    ENDED = "ended"
    RATED = "rated"


class ChatEvent(Base):
    """One numbered event of a chat. A reconnecting client asks for the events after the last it saw."""

    __tablename__ = "chat_event"
    __table_args__ = (UniqueConstraint("chat_id", "seq"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"))
    seq: Mapped[int]
    kind: Mapped[ChatEventKind] = mapped_column(str_enum(ChatEventKind))
    message_id: Mapped[int | None] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), default=None)
    form_id: Mapped[int | None] = mapped_column(
        ForeignKey("secure_form.id", ondelete="CASCADE"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class FormStatus(enum.StrEnum):
    REQUESTED = "requested"
    SUBMITTED = "submitted"


class SecureForm(Base):
    """Fields an agent asked the verified customer for; ``fields`` lists their kinds, in order."""

    __tablename__ = "secure_form"

    id: Mapped[int] = mapped_column(primary_key=True)
    chat_id: Mapped[int] = mapped_column(ForeignKey("chat.id", ondelete="CASCADE"), index=True)
    conversation_id: Mapped[int] = mapped_column(
        ForeignKey("conversation.id", ondelete="CASCADE"), index=True
    )
    requested_by_agent_id: Mapped[int | None] = mapped_column(ForeignKey("agent.id", ondelete="SET NULL"))
    fields: Mapped[list[Any]] = mapped_column(JSON)
    status: Mapped[FormStatus] = mapped_column(str_enum(FormStatus), default=FormStatus.REQUESTED)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    submitted_at: Mapped[datetime | None] = mapped_column(default=None)


class SecureFormValue(Base):
    """One answer: encrypted (AES-GCM, bound to its form and field) and masked for display."""

    __tablename__ = "secure_form_value"
    __table_args__ = (
        UniqueConstraint("form_id", "field"),
        Index("ix_secure_form_value_key_id", "key_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("secure_form.id", ondelete="CASCADE"))
    field: Mapped[str] = mapped_column(String(32))
    #: The id of the key that encrypted the value, so a rotation can find what to re-encrypt.
    key_id: Mapped[str] = mapped_column(String(32))
    value_encrypted: Mapped[str] = mapped_column(Text)
    masked: Mapped[str] = mapped_column(String(200))
