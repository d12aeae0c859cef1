"""Admins' edits of response templates: name, the intents they are offered for, and their languages.

A template offered for exposed private data (``for_private_data``) is offered for nothing else, so
it takes no intents or groups: the "please delete your post" reply must not turn up elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.kit.actor import Actor
from haven.kit.errors import NotFound
from haven.kit.validation import FormInvalid, clean_name, clean_text
from haven.models import ResponseTemplate, ResponseTemplateVariant
from haven.responses.render import TemplateError, template_variables
from haven.triage.intents import INTENTS, IntentGroup
from haven.triage.language import LANGUAGE_NAMES

MAX_NAME_LENGTH = 100
MAX_BODY_LENGTH = 2000


@dataclass(frozen=True, slots=True)
class TemplateDraft:
    """A template as the form (or the demo seed) gives it, not yet checked."""

    name: str
    intents: Sequence[str] = ()
    intent_groups: Sequence[str] = ()
    for_private_data: bool = False
    #: Language code → text; blank text means no variant in that language.
    bodies: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class _CheckedTemplate:
    name: str
    intents: list[str]
    intent_groups: list[str]
    for_private_data: bool
    bodies: dict[str, str]


async def list_templates(session: AsyncSession, brand_id: int) -> Sequence[ResponseTemplate]:
    return (
        await session.scalars(
            select(ResponseTemplate)
            .where(ResponseTemplate.brand_id == brand_id)
            .order_by(ResponseTemplate.name)
        )
    ).all()


async def access_template(session: AsyncSession, brand_id: int, template_id: int) -> ResponseTemplate:
    """The brand's template; another brand's template is as unknown as a missing one."""
    template = await session.get(ResponseTemplate, template_id)
    if template is None or template.brand_id != brand_id:
        raise NotFound("no such template")
    return template


def _listed(values: Sequence[str], known: Sequence[str], label: str, problems: list[str]) -> list[str]:
    unknown = [value for value in values if value not in known]
    if unknown:
        shown = ", ".join(repr(value[:40]) for value in unknown[:5])
        problems.append(f"{label}: unknown {shown}")
    return sorted(set(values) & set(known), key=list(known).index)


def _bodies(draft: TemplateDraft, problems: list[str]) -> dict[str, str]:
    bodies: dict[str, str] = {}
    for language, typed in (draft.bodies or {}).items():
        if language not in LANGUAGE_NAMES:
            problems.append(f"Text: unknown language {language[:8]!r}")
            continue
        label = f"Text ({LANGUAGE_NAMES[language]})"
        before = len(problems)
        body = clean_text(typed, label=label, max_length=MAX_BODY_LENGTH, problems=problems)
        if not body or len(problems) > before:
            continue
        try:
            template_variables(body)
        except TemplateError as error:
            problems.append(f"{label}: {error}")
            continue
        bodies[language] = body
    if not bodies and not problems:
        problems.append("Text: write the reply in at least one language")
    return bodies


async def _check(
    session: AsyncSession, brand_id: int, draft: TemplateDraft, *, template_id: int | None
) -> _CheckedTemplate:
    problems: list[str] = []
    name = clean_name(draft.name, label="Name", max_length=MAX_NAME_LENGTH, problems=problems)
    existing = await session.scalar(
        select(ResponseTemplate.id).where(
            ResponseTemplate.brand_id == brand_id,
            ResponseTemplate.name == name,
            ResponseTemplate.id != (template_id or 0),
        )
    )
    if existing is not None:
        problems.append(f"Name: the brand has a template called {name!r} already")
    intents = _listed(draft.intents, INTENTS, "Intents", problems)
    groups = _listed(draft.intent_groups, [group.value for group in IntentGroup], "Intent groups", problems)
    if draft.for_private_data and (intents or groups):
        problems.append(
            "Private data: a template for exposed private data is offered for nothing else; "
            "leave its intents and groups empty"
        )
    bodies = _bodies(draft, problems)
    if problems:
        raise FormInvalid(problems)
    return _CheckedTemplate(name, intents, groups, draft.for_private_data, bodies)


def _apply(template: ResponseTemplate, checked: _CheckedTemplate) -> None:
    template.name = checked.name
    template.intents = checked.intents
    template.intent_groups = checked.intent_groups
    template.for_private_data = checked.for_private_data
    # Edited in place: a variant removed and added again under the same key in one flush would clash.
    for variant in list(template.variants):
        if variant.language in checked.bodies:
            variant.body = checked.bodies[variant.language]
        else:
            template.variants.remove(variant)
    have = {variant.language for variant in template.variants}
    for language, body in checked.bodies.items():
        if language not in have:
            template.variants.append(ResponseTemplateVariant(language=language, body=body))


def _details(template: ResponseTemplate) -> dict[str, object]:
    return {
        "name": template.name,
        "intents": template.intents,
        "intent_groups": template.intent_groups,
        "for_private_data": template.for_private_data,
        "languages": sorted(variant.language for variant in template.variants),
    }


async def create_template(
    session: AsyncSession, actor: Actor, brand_id: int, draft: TemplateDraft
) -> ResponseTemplate:
    checked = await _check(session, brand_id, draft, template_id=None)
    template = ResponseTemplate(brand_id=brand_id, name=checked.name, variants=[])
    _apply(template, checked)
    session.add(template)
    await session.flush()
    record(session, actor, "template.create", "response_template", template.id, _details(template))
    return template


async def update_template(
    session: AsyncSession, actor: Actor, template: ResponseTemplate, draft: TemplateDraft
) -> ResponseTemplate:
    checked = await _check(session, template.brand_id, draft, template_id=template.id)
    _apply(template, checked)
    await session.flush()
    record(session, actor, "template.update", "response_template", template.id, _details(template))
    return template


async def delete_template(session: AsyncSession, actor: Actor, template: ResponseTemplate) -> None:
    record(session, actor, "template.delete", "response_template", template.id, {"name": template.name})
    await session.delete(template)
