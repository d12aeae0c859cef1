"""Admins' edits of a brand's triage policy: priority rules, SLA targets, business hours, pickup time.

Priority rules apply to posts triaged after the change; SLA targets and hours also move the
deadlines of conversations already open, so that every clock on screen follows the current policy.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date

from pydantic import ValidationError
from sqlalchemy.ext.asyncio import AsyncSession

from haven.audit.service import record
from haven.kit.actor import Actor
from haven.kit.validation import FormInvalid, small_int
from haven.triage.business_hours import WEEKDAYS, BusinessHours
from haven.triage.deadlines import restart_deadlines_for_policy
from haven.triage.policy import TriagePolicy, settings_row
from haven.triage.priority import LEAST_URGENT, MOST_URGENT, PriorityRule, parse_rules
from haven.triage.sla import MAX_TARGET_MINUTES, SlaTarget, SlaTargets

PRIORITIES = tuple(range(MOST_URGENT, LEAST_URGENT + 1))
MIN_PICKUP_MINUTES = 1
MAX_PICKUP_MINUTES = 240

DAY_NAMES = dict(
    zip(WEEKDAYS, ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"), strict=True)
)
# ASCII digits only: ``\d`` would also take other scripts' digits.
_INTERVAL = re.compile(r"(?P<start>[0-9]{1,2}:[0-9]{2})\s*[-–]\s*(?P<end>[0-9]{1,2}:[0-9]{2})")
_ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")
_SEPARATORS = re.compile(r"[\s,;]+")


async def save_priority_rules(
    session: AsyncSession, actor: Actor, brand_id: int, document: str
) -> list[PriorityRule]:
    """Replace the brand's rules with ``document``; raises ``RulesInvalid`` and changes nothing if it
    is not a valid rules document."""
    rules = parse_rules(document)
    row = await settings_row(session, brand_id)
    row.priority_rules = [rule.model_dump(mode="json", exclude_none=True) for rule in rules]
    record(
        session,
        actor,
        "config.priority_rules",
        "brand",
        brand_id,
        {"rules": len(rules), "enabled": sum(rule.enabled for rule in rules)},
    )
    return rules


async def reset_priority_rules(session: AsyncSession, actor: Actor, brand_id: int) -> None:
    """Go back to the built-in rules (and follow them as they change with new releases)."""
    row = await settings_row(session, brand_id)
    row.priority_rules = None
    record(session, actor, "config.priority_rules", "brand", brand_id, {"reset": True})


@dataclass(frozen=True, slots=True)
class TargetDraft:
    """One priority's targets as typed: minutes, and whether only business hours count."""

    first_response: str
    resolution: str
    business_hours_apply: bool


@dataclass(frozen=True, slots=True)
class SlaDraft:
    """The SLA & hours form as typed, not yet checked."""

    #: ``p1`` … ``p4`` → that priority's targets.
    targets: Mapping[str, TargetDraft]
    timezone: str
    #: ``mon`` … ``sun`` → opening intervals such as ``08:00-12:00, 13:00-17:00``; blank is closed.
    week: Mapping[str, str]
    #: Closed days as YYYY-MM-DD, separated by spaces, commas or new lines.
    holidays: str
    pickup_minutes: str
    keep_exposed_originals: bool


@dataclass(frozen=True, slots=True)
class CheckedSla:
    targets: SlaTargets
    hours: BusinessHours
    pickup_minutes: int
    keep_exposed_originals: bool


def _target_draft(target: SlaTarget) -> TargetDraft:
    return TargetDraft(
        str(target.first_response_minutes), str(target.resolution_minutes), target.business_hours_apply
    )


def sla_draft(policy: TriagePolicy) -> SlaDraft:
    """The form's values for a policy."""
    return SlaDraft(
        targets={
            f"p{priority}": _target_draft(policy.targets.for_priority(priority)) for priority in PRIORITIES
        },
        timezone=policy.hours.timezone,
        week={
            day: ", ".join(f"{start}-{end}" for start, end in getattr(policy.hours.week, day))
            for day in WEEKDAYS
        },
        holidays="\n".join(day.isoformat() for day in policy.hours.holidays),
        pickup_minutes=str(policy.pickup_minutes),
        keep_exposed_originals=policy.keep_exposed_originals,
    )


def _messages(error: ValidationError) -> list[tuple[tuple[int | str, ...], str]]:
    return [(tuple(e["loc"]), e["msg"].removeprefix("Value error, ")) for e in error.errors()[:10]]


def _minutes(typed: str, label: str, problems: list[str]) -> int | None:
    number = small_int(typed)
    if number is None or not 1 <= number <= MAX_TARGET_MINUTES:
        problems.append(f"{label}: a whole number of minutes from 1 to {MAX_TARGET_MINUTES:,}")
        return None
    return number


def _targets(draft: SlaDraft, problems: list[str]) -> SlaTargets | None:
    targets: dict[str, SlaTarget] = {}
    for priority in PRIORITIES:
        typed = draft.targets.get(f"p{priority}", TargetDraft("", "", True))
        first = _minutes(typed.first_response, f"P{priority} first response", problems)
        resolution = _minutes(typed.resolution, f"P{priority} resolution", problems)
        if first is None or resolution is None:
            continue
        try:
            targets[f"p{priority}"] = SlaTarget(
                first_response_minutes=first,
                resolution_minutes=resolution,
                business_hours_apply=typed.business_hours_apply,
            )
        except ValidationError as error:
            problems.extend(f"P{priority}: {message}" for _, message in _messages(error))
    return SlaTargets.model_validate(targets) if len(targets) == len(PRIORITIES) else None


def _intervals(day: str, typed: str, problems: list[str]) -> list[tuple[str, str]]:
    intervals = []
    for piece in filter(None, (part.strip() for part in typed.split(","))):
        match = _INTERVAL.fullmatch(piece)
        if match is None:
            problems.append(
                f"{DAY_NAMES[day]}: write opening times as 08:00-12:00, 13:00-17:00 (or leave blank)"
            )
            return []
        intervals.append((match["start"].zfill(5), match["end"].zfill(5)))
    return intervals


def _iso_date(word: str) -> date | None:
    if not _ISO_DATE.fullmatch(word):
        return None
    try:
        return date.fromisoformat(word)
    except ValueError:  # 2030-02-30
        return None


def _holidays(typed: str, problems: list[str]) -> list[date]:
    days: list[date] = []
    wrong: list[str] = []
    for word in filter(None, _SEPARATORS.split(typed)):
        day = _iso_date(word)
        if day is None:
            wrong.append(word)
        else:
            days.append(day)
    if wrong:
        shown = ", ".join(repr(word[:12]) for word in wrong[:5])
        problems.append(
            f"Holidays: {shown} {'is not a date' if len(wrong) == 1 else 'are not dates'} (YYYY-MM-DD)"
        )
    return sorted(days)


def _hours_label(loc: tuple[int | str, ...]) -> str:
    if loc[:1] == ("timezone",):
        return "Time zone"
    if loc[:1] == ("week",):
        return DAY_NAMES.get(str(loc[1]), "Opening hours") if len(loc) > 1 else "Opening hours"
    if loc[:1] == ("holidays",):
        return "Holidays"
    return "Business hours"


def check_sla(draft: SlaDraft) -> CheckedSla:
    """Raises ``FormInvalid`` naming every field at fault, in the form's order."""
    problems: list[str] = []
    targets = _targets(draft, problems)
    # Some problems are found here and some by BusinessHours: gather them per field to keep the order.
    found: dict[str, list[str]] = {"timezone": [], "week": [], "holidays": []}
    week = {day: _intervals(day, draft.week.get(day, ""), found["week"]) for day in WEEKDAYS}
    holidays = _holidays(draft.holidays, found["holidays"])
    hours = None
    try:
        hours = BusinessHours.model_validate(
            {"timezone": draft.timezone.strip(), "week": week, "holidays": holidays}
        )
    except ValidationError as error:
        for loc, message in _messages(error):
            found.get(str(loc[0]) if loc else "", found["week"]).append(f"{_hours_label(loc)}: {message}")
    problems.extend(problem for field in found.values() for problem in field)
    pickup = small_int(draft.pickup_minutes)
    if pickup is None or not MIN_PICKUP_MINUTES <= pickup <= MAX_PICKUP_MINUTES:
        problems.append(
            f"Pickup time: a whole number of minutes from {MIN_PICKUP_MINUTES} to {MAX_PICKUP_MINUTES}"
        )
    if problems or targets is None or hours is None or pickup is None:
        raise FormInvalid(problems)
    return CheckedSla(targets, hours, pickup, draft.keep_exposed_originals)


async def save_sla(session: AsyncSession, actor: Actor, brand_id: int, draft: SlaDraft) -> CheckedSla:
    """Store the targets, hours, pickup time and originals policy; open conversations' deadlines follow."""
    checked = check_sla(draft)
    row = await settings_row(session, brand_id)
    row.sla_targets = checked.targets.model_dump(mode="json")
    row.business_hours = checked.hours.model_dump(mode="json")
    row.pickup_minutes = checked.pickup_minutes
    row.keep_exposed_originals = checked.keep_exposed_originals
    record(
        session,
        actor,
        "config.sla",
        "brand",
        brand_id,
        {
            "targets": row.sla_targets,
            "timezone": checked.hours.timezone,
            "week": row.business_hours["week"],
            "holidays": len(checked.hours.holidays),
            "pickup_minutes": checked.pickup_minutes,
            "keep_exposed_originals": checked.keep_exposed_originals,
        },
    )
    await restart_deadlines_for_policy(session, brand_id)
    return checked
