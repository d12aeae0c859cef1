"""Reading the admin pages' forms into drafts for the services, and models back into drafts.

The pages show what the admin typed when it cannot be saved, so each form has one draft type that
both the blank, the stored and the refused form are rendered from.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from starlette.datastructures import FormData

from haven.agents.teams import TeamDraft
from haven.kit.validation import FormInvalid, small_int
from haven.models import Agent, ResponseTemplate, Team
from haven.responses.admin import TemplateDraft
from haven.triage.admin import PRIORITIES, SlaDraft, TargetDraft
from haven.triage.business_hours import WEEKDAYS
from haven.triage.intents import INTENT_GROUPS
from haven.triage.language import LANGUAGE_NAMES
from haven.triage.pii.detect import PiiType
from haven.triage.priority import Signals


def text(form: FormData, name: str) -> str:
    value = form.get(name)
    return value if isinstance(value, str) else ""


def texts(form: FormData, name: str) -> list[str]:
    return [value for value in form.getlist(name) if isinstance(value, str)]


def team_from_form(form: FormData) -> TeamDraft:
    capacities = {
        agent_id: value
        for key, value in form.multi_items()
        if key.startswith("capacity_")
        and isinstance(value, str)
        and (agent_id := small_int(key.removeprefix("capacity_"))) is not None
    }
    return TeamDraft(
        name=text(form, "name"),
        languages=texts(form, "languages"),
        intent_groups=texts(form, "intent_groups"),
        routing_mode=text(form, "routing_mode"),
        member_ids=texts(form, "members"),
        capacities=capacities,
    )


def team_draft(team: Team | None, agents: list[Agent]) -> TeamDraft:
    """The form's values for a stored team (or a new one), with every agent's capacity."""
    capacities = {agent.id: str(agent.capacity) for agent in agents}
    if team is None:
        return TeamDraft(name="", capacities=capacities)
    return TeamDraft(
        name=team.name,
        languages=list(team.languages),
        intent_groups=list(team.intent_groups),
        routing_mode=team.routing_mode.value,
        member_ids=[str(agent.id) for agent in team.members],
        capacities=capacities,
    )


def template_from_form(form: FormData) -> TemplateDraft:
    return TemplateDraft(
        name=text(form, "name"),
        intents=texts(form, "intents"),
        intent_groups=texts(form, "intent_groups"),
        for_private_data=text(form, "for_private_data") == "on",
        bodies={language: text(form, f"body_{language}") for language in LANGUAGE_NAMES},
    )


def template_draft(template: ResponseTemplate | None) -> TemplateDraft:
    if template is None:
        return TemplateDraft(name="", bodies={})
    return TemplateDraft(
        name=template.name,
        intents=list(template.intents),
        intent_groups=list(template.intent_groups),
        for_private_data=template.for_private_data,
        bodies={variant.language: variant.body for variant in template.variants},
    )


@dataclass(frozen=True, slots=True)
class Sample:
    """A sample post's signals for trying rules out, as typed (the form shows them again)."""

    intent: str = "lost_or_stolen_card"
    confidence: str = "0.9"
    sentiment: str = "0"
    followers: str = "120"
    verified: bool = False
    pii_types: tuple[str, ...] = ()
    language: str = "en"
    public: bool = True


def sample_from_form(form: FormData) -> Sample:
    return Sample(
        intent=text(form, "sample_intent"),
        confidence=text(form, "sample_confidence"),
        sentiment=text(form, "sample_sentiment"),
        followers=text(form, "sample_followers"),
        verified=text(form, "sample_verified") == "on",
        pii_types=tuple(texts(form, "sample_pii")),
        language=text(form, "sample_language"),
        public=text(form, "sample_channel") != "private",
    )


def _number(typed: str, label: str, low: float, high: float, problems: list[str]) -> float:
    try:
        value = float(typed.strip()[:20])
    except ValueError:
        value = math.nan
    if not low <= value <= high:  # also refuses NaN
        problems.append(f"Sample {label}: a number from {low:g} to {high:g}")
        return low
    return value


def signals_of(sample: Sample) -> Signals:
    """The sample as triage's signals; raises ``FormInvalid`` naming each field that is not usable."""
    problems: list[str] = []
    if sample.intent and sample.intent not in INTENT_GROUPS:
        problems.append("Sample intent: choose one from the list")
    if sample.language and sample.language not in LANGUAGE_NAMES:
        problems.append("Sample language: choose one from the list")
    if not set(sample.pii_types) <= set(PiiType):
        problems.append("Sample private data: choose from the list")
    followers = small_int(sample.followers, max_digits=10)
    if followers is None:
        problems.append("Sample followers: a whole number, 0 or more")
    signals = Signals(
        intent=sample.intent or None,
        intent_confidence=_number(sample.confidence, "confidence", 0, 1, problems),
        sentiment=_number(sample.sentiment, "sentiment", -1, 1, problems),
        followers=followers or 0,
        verified=sample.verified,
        pii_types=frozenset(sample.pii_types),
        language=sample.language or None,
        is_private=not sample.public,
    )
    if problems:
        raise FormInvalid(problems)
    return signals


def sla_from_form(form: FormData) -> SlaDraft:
    return SlaDraft(
        targets={
            f"p{priority}": TargetDraft(
                first_response=text(form, f"p{priority}_first_response"),
                resolution=text(form, f"p{priority}_resolution"),
                business_hours_apply=text(form, f"p{priority}_business_hours") == "on",
            )
            for priority in PRIORITIES
        },
        timezone=text(form, "timezone"),
        week={day: text(form, f"hours_{day}") for day in WEEKDAYS},
        holidays=text(form, "holidays"),
        pickup_minutes=text(form, "pickup_minutes"),
        keep_exposed_originals=text(form, "keep_exposed_originals") == "on",
    )
