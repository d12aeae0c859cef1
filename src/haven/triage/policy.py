"""A brand's triage policy: its priority rules, SLA targets and business hours, or the defaults."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession

from haven.models import TriageSettings
from haven.triage.business_hours import BusinessHours, default_business_hours
from haven.triage.priority import DEFAULT_RULES, PriorityRule
from haven.triage.sla import SlaTargets


@dataclass(frozen=True, slots=True)
class TriagePolicy:
    rules: tuple[PriorityRule, ...]
    targets: SlaTargets
    hours: BusinessHours
    keep_exposed_originals: bool
    pickup_minutes: int


DEFAULT_POLICY = TriagePolicy(
    rules=tuple(DEFAULT_RULES),
    targets=SlaTargets(),
    hours=default_business_hours(),
    keep_exposed_originals=True,
    pickup_minutes=5,
)


def policy_of(row: TriageSettings | None) -> TriagePolicy:
    """The policy a settings row describes; what it leaves empty keeps the default.

    Rows are validated when admins save them, so a row that no longer validates (say, after an
    intent was renamed) is a bug worth failing loudly on, not something to skip silently.
    """
    if row is None:
        return DEFAULT_POLICY
    return TriagePolicy(
        rules=(
            DEFAULT_POLICY.rules
            if row.priority_rules is None
            else tuple(PriorityRule.model_validate(rule) for rule in row.priority_rules)
        ),
        targets=DEFAULT_POLICY.targets
        if row.sla_targets is None
        else SlaTargets.model_validate(row.sla_targets),
        hours=(
            DEFAULT_POLICY.hours
            if row.business_hours is None
            else BusinessHours.model_validate(row.business_hours)
        ),
        keep_exposed_originals=row.keep_exposed_originals,
        pickup_minutes=row.pickup_minutes,
    )


async def load_policy(session: AsyncSession, brand_id: int) -> TriagePolicy:
    return policy_of(await session.get(TriageSettings, brand_id))


async def settings_row(session: AsyncSession, brand_id: int) -> TriageSettings:
    """The brand's settings row, created with defaults on first edit."""
    row = await session.get(TriageSettings, brand_id, with_for_update=True)
    if row is None:
        row = TriageSettings(brand_id=brand_id, keep_exposed_originals=True, pickup_minutes=5)
        session.add(row)
        await session.flush()
    return row
