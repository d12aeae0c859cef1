"""Raw inbound events, stored once before anything else happens to them (rule 3 of the house)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from haven.kit.clock import utcnow
from haven.models.base import Base


class InboundEvent(Base):
    __tablename__ = "inbound_event"
    __table_args__ = (
        UniqueConstraint("channel_account_id", "external_id"),
        Index("ix_inbound_event_pending", "processed_at", "id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    channel_account_id: Mapped[int] = mapped_column(ForeignKey("channel_account.id", ondelete="CASCADE"))
    source: Mapped[str] = mapped_column(String(32))
    external_id: Mapped[str] = mapped_column(String(64))
    payload: Mapped[str] = mapped_column(Text)
    received_at: Mapped[datetime] = mapped_column(default=utcnow)
    processed_at: Mapped[datetime | None] = mapped_column(default=None)
    attempts: Mapped[int] = mapped_column(default=0)
    #: Why the event made no message: ``ignored: …`` (by design) or ``malformed: …`` / a failure.
    outcome: Mapped[str | None] = mapped_column(String(500), default=None)
