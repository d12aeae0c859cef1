"""Choosing and filling templates for a conversation."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.models import Agent, Brand, Conversation, ResponseTemplate, ResponseTemplateVariant
from haven.responses.render import render_template
from haven.triage.intents import group_of

DEFAULT_LANGUAGE = "en"


@dataclass(frozen=True, slots=True)
class Suggestion:
    template_id: int
    name: str
    language: str
    text: str
    #: Why it is offered: "intent", "group", "private data" or "" (offered to everyone).
    reason: str


def variant_for(template: ResponseTemplate, language: str | None) -> ResponseTemplateVariant | None:
    """The variant in the customer's language, else English, else the first there is."""
    by_language = {variant.language: variant for variant in template.variants}
    for wanted in (language, DEFAULT_LANGUAGE):
        if wanted is not None and wanted in by_language:
            return by_language[wanted]
    return template.variants[0] if template.variants else None


def _reason(template: ResponseTemplate, conversation: Conversation) -> str | None:
    """Why the template fits the conversation, or None when it does not."""
    if template.for_private_data:
        return "private data" if conversation.private_data_exposed else None
    if conversation.intent is not None and conversation.intent in template.intents:
        return "intent"
    if group_of(conversation.intent).value in template.intent_groups:
        return "group"
    if not template.intents and not template.intent_groups:
        return ""
    return None


_RANK = {"private data": 0, "intent": 1, "group": 2, "": 3}


async def suggest_templates(
    session: AsyncSession, conversation: Conversation, agent: Agent
) -> Sequence[Suggestion]:
    """The brand's templates that fit the conversation, best first, filled in for this customer."""
    templates = (
        await session.scalars(
            select(ResponseTemplate)
            .where(ResponseTemplate.brand_id == conversation.brand_id)
            .order_by(ResponseTemplate.name)
        )
    ).all()
    brand = await session.get_one(Brand, conversation.brand_id)
    identity = conversation.contact.identities[0] if conversation.contact.identities else None
    values = {
        "customer_name": conversation.contact.display_name,
        "customer_handle": f"@{identity.handle}" if identity is not None else "",
        "agent_name": agent.display_name,
        "brand": brand.name,
    }
    suggestions = []
    for template in templates:
        reason = _reason(template, conversation)
        variant = variant_for(template, conversation.language)
        if reason is None or variant is None:
            continue
        suggestions.append(
            Suggestion(
                template_id=template.id,
                name=template.name,
                language=variant.language,
                text=render_template(variant.body, values),
                reason=reason,
            )
        )
    return sorted(suggestions, key=lambda suggestion: _RANK[suggestion.reason])
