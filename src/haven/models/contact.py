"""Customers and their identities per channel: one person, many handles."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from haven.kit.clock import utcnow
from haven.models.base import Base, str_enum
from haven.models.channel import ChannelKind


class Contact(Base):
    __tablename__ = "contact"

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    display_name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    identities: Mapped[list[ContactIdentity]] = relationship(back_populates="contact", lazy="selectin")


class ContactIdentity(Base):
    """A contact's account on one network, keyed by the network's stable user id."""

    __tablename__ = "contact_identity"
    __table_args__ = (UniqueConstraint("brand_id", "channel_kind", "external_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"))
    contact_id: Mapped[int] = mapped_column(ForeignKey("contact.id", ondelete="CASCADE"), index=True)
    channel_kind: Mapped[ChannelKind] = mapped_column(str_enum(ChannelKind))
    external_id: Mapped[str] = mapped_column(String(64))
    handle: Mapped[str] = mapped_column(String(100))
    display_name: Mapped[str] = mapped_column(String(200))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)
    contact: Mapped[Contact] = relationship(back_populates="identities")
