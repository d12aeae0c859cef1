"""What triage learned about each inbound message, each brand's triage settings, and canned replies."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from haven.kit.clock import utcnow
from haven.models.base import Base


class MessageTriage(Base):
    """One inbound message's understanding: intent, sentiment, language, exposed private data.

    ``sealed_original`` holds the customer's own words, encrypted, when the message's text was masked
    because it exposed private data (or nothing, when the brand keeps no originals).
    """

    __tablename__ = "message_triage"

    message_id: Mapped[int] = mapped_column(ForeignKey("message.id", ondelete="CASCADE"), primary_key=True)
    intent: Mapped[str | None] = mapped_column(String(64), default=None)
    #: The model's best intent even when the post was judged out of scope.
    best_intent: Mapped[str] = mapped_column(String(64))
    intent_confidence: Mapped[float]
    #: The words of the post that drove the intent most.
    intent_words: Mapped[list[str]] = mapped_column(JSON, default=list)
    model: Mapped[str] = mapped_column(String(100))
    sentiment: Mapped[float]
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    #: The private-data types found (``CREDIT_CARD`` …), empty when none.
    private_data: Mapped[list[str]] = mapped_column(JSON, default=list)
    sealed_original: Mapped[str | None] = mapped_column(Text, default=None)
    priority: Mapped[int]
    priority_reasons: Mapped[list[str]] = mapped_column(JSON, default=list)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class TriageSettings(Base):
    """A brand's triage policy, edited by admins. Absent documents mean the built-in defaults."""

    __tablename__ = "triage_settings"

    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), primary_key=True)
    #: ``haven.triage.priority`` rules as a JSON document.
    priority_rules: Mapped[list[dict[str, Any]] | None] = mapped_column(JSON, default=None)
    #: ``haven.triage.sla.SlaTargets`` as JSON.
    sla_targets: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: ``haven.triage.business_hours.BusinessHours`` as JSON.
    business_hours: Mapped[dict[str, Any] | None] = mapped_column(JSON, default=None)
    #: Keep an encrypted copy of a post whose private data was masked (else keep only the mask).
    keep_exposed_originals: Mapped[bool] = mapped_column(default=True)
    #: An assigned conversation nobody opened within this many minutes goes back to the queue.
    pickup_minutes: Mapped[int] = mapped_column(default=5)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ResponseTemplate(Base):
    """A canned reply, suggested for the intents or intent groups it names."""

    __tablename__ = "response_template"
    __table_args__ = (UniqueConstraint("brand_id", "name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    brand_id: Mapped[int] = mapped_column(ForeignKey("brand.id", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(100))
    intents: Mapped[list[str]] = mapped_column(JSON, default=list)
    intent_groups: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: Offered when the post exposed private data (the "please delete your post" reply).
    for_private_data: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    variants: Mapped[list[ResponseTemplateVariant]] = relationship(
        back_populates="template",
        lazy="selectin",
        cascade="all, delete-orphan",
        order_by="ResponseTemplateVariant.language",
    )


class ResponseTemplateVariant(Base):
    """A template's text in one language, with ``{variables}``."""

    __tablename__ = "response_template_variant"

    template_id: Mapped[int] = mapped_column(
        ForeignKey("response_template.id", ondelete="CASCADE"), primary_key=True
    )
    language: Mapped[str] = mapped_column(String(8), primary_key=True)
    body: Mapped[str] = mapped_column(String(2000))
    template: Mapped[ResponseTemplate] = relationship(back_populates="variants")
