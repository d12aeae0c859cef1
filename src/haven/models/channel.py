"""Channel accounts (a brand's handle on a network) and their polling cursors."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.kit.clock import utcnow
from haven.models.base import Base, str_enum


class ChannelKind(enum.StrEnum):
    X = "x"


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
