"""Channel accounts (a brand's handle on a network) and their polling cursors."""

from __future__ import annotations

import enum
from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.kit.clock import utcnow
from haven.models.base import Base, str_enum


class ChannelKind(enum.StrEnum):
    X = "x"
    #: The bank's own secure chat (one account per brand; Haven itself is the network).
    WEBCHAT = "webchat"


class ChannelAccount(Base):
    """One account on one network. Credentials are encrypted at rest (see security.crypto)."""

    __tablename__ = "channel_account"
    __table_args__ = (UniqueConstraint("kind", "external_user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    handle: Mapped[str] = mapped_column(String(100))
    external_user_id: Mapped[str] = mapped_column(String(64))
    api_base_url: Mapped[str] = mapped_column(String(500))
    credentials_encrypted: Mapped[str] = mapped_column(Text)
    settings: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    active: Mapped[bool] = mapped_column(default=True)
    #: The account's outbox waits until then (an X rate-limit window, a usage cap); NULL = sending.
    send_paused_until: Mapped[datetime | None] = mapped_column(default=None)
    send_pause_reason: Mapped[str | None] = mapped_column(String(300), default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChannelCursor(Base):
    """Where a poller stopped reading one stream of one account (for X: the newest seen id)."""

    __tablename__ = "channel_cursor"
    __table_args__ = (UniqueConstraint("channel_account_id", "stream"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id", ondelete="CASCADE"))
    stream: Mapped[str] = mapped_column(String(64))
    position: Mapped[str] = mapped_column(String(128))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ApiUsage(Base):
    """Calls made to a network's API by one account on one UTC day, by operation.

    ``requests`` counts HTTP calls; ``resources`` counts what X bills: posts and users read, posts
    and DMs created. Spend is estimated from these with configurable prices (``haven.usage``).
    """

    __tablename__ = "api_usage"
    __table_args__ = (UniqueConstraint("channel_account_id", "day", "operation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id", ondelete="CASCADE"))
    day: Mapped[date] = mapped_column(Date)
    operation: Mapped[str] = mapped_column(String(32))
    requests: Mapped[int] = mapped_column(default=0)
    resources: Mapped[int] = mapped_column(default=0)
