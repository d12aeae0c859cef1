"""SLA targets per priority, the deadlines they give a conversation, and how each clock stands.

Default targets, first response / resolution:

====  ============  ==========  ====================================================
P1    15 minutes    4 hours     calendar time: fraud and exposed data don't wait
P2    1 hour        8 hours     business time
P3    4 hours       24 hours    business time
P4    8 hours       72 hours    business time
====  ============  ==========  ====================================================

A clock is at risk when less than a fifth of its time is left, measured on the clock the target
uses (business minutes when business hours apply, so a deadline on Monday morning is not "at risk"
all weekend).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictInt, model_validator

from haven.triage.business_hours import (
    BusinessHours,
    add_business_time,
    aware_utc,
    business_minutes_between,
)

#: A target may be up to 30 days long.
MAX_TARGET_MINUTES = 30 * 24 * 60
#: A running clock with less than this share of its time left is at risk.
AT_RISK_BELOW = 0.2

Minutes = Annotated[StrictInt, Field(ge=1, le=MAX_TARGET_MINUTES)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SlaTarget(_Document):
    first_response_minutes: Minutes
    resolution_minutes: Minutes
    #: Count only business time (else calendar time, around the clock).
    business_hours_apply: StrictBool = True

    @model_validator(mode="after")
    def _response_before_resolution(self) -> SlaTarget:
        if self.first_response_minutes > self.resolution_minutes:
            raise ValueError("the first response cannot be due after the resolution")
        return self


class SlaTargets(_Document):
    p1: SlaTarget = SlaTarget(
        first_response_minutes=15, resolution_minutes=4 * 60, business_hours_apply=False
    )
    p2: SlaTarget = SlaTarget(first_response_minutes=60, resolution_minutes=8 * 60)
    p3: SlaTarget = SlaTarget(first_response_minutes=4 * 60, resolution_minutes=24 * 60)
    p4: SlaTarget = SlaTarget(first_response_minutes=8 * 60, resolution_minutes=72 * 60)

    def for_priority(self, priority: int) -> SlaTarget:
        targets = {1: self.p1, 2: self.p2, 3: self.p3, 4: self.p4}
        if priority not in targets:
            raise ValueError(f"no priority P{priority}; priorities are P1 to P4")
        return targets[priority]

    def hours_for(self, priority: int, hours: BusinessHours) -> BusinessHours | None:
        """The business hours a priority's clocks count in, or None when they count calendar time."""
        return hours if self.for_priority(priority).business_hours_apply else None


@dataclass(frozen=True, slots=True)
class SlaDue:
    first_response_due: datetime
    resolution_due: datetime


def _due(start: datetime, minutes: int, hours: BusinessHours | None) -> datetime:
    if hours is None:
        return aware_utc(start, "opened_at") + timedelta(minutes=minutes)
    return add_business_time(start, minutes, hours)


def due_times(opened_at: datetime, priority: int, targets: SlaTargets, hours: BusinessHours) -> SlaDue:
    """When a conversation opened (or reopened) at ``opened_at`` must be answered and resolved."""
    target = targets.for_priority(priority)
    clock = targets.hours_for(priority, hours)
    return SlaDue(
        first_response_due=_due(opened_at, target.first_response_minutes, clock),
        resolution_due=_due(opened_at, target.resolution_minutes, clock),
    )


class SlaStatus(enum.StrEnum):
    OK = "ok"
    AT_RISK = "at_risk"
    BREACHED = "breached"
    MET = "met"


@dataclass(frozen=True, slots=True)
class SlaState:
    status: SlaStatus
    #: Minutes left until the deadline (at ``done_at`` when done); negative once past it.
    minutes_left: float


def _minutes(start: datetime, end: datetime, hours: BusinessHours | None) -> float:
    if hours is None:
        return (end - start) / timedelta(minutes=1)
    return business_minutes_between(start, end, hours)


def sla_state(
    now: datetime,
    due: datetime,
    done_at: datetime | None,
    *,
    started_at: datetime,
    hours: BusinessHours | None,
) -> SlaState:
    """How one clock stands; ``hours`` is ``SlaTargets.hours_for(priority, …)``, None for calendar time.

    A clock stopped at ``done_at`` is met if that was no later than ``due``, else breached.
    """
    now, due, started_at = aware_utc(now, "now"), aware_utc(due, "due"), aware_utc(started_at, "started_at")
    if done_at is not None:
        done_at = aware_utc(done_at, "done_at")
        left = _minutes(done_at, due, hours)
        return SlaState(SlaStatus.MET if done_at <= due else SlaStatus.BREACHED, left)
    left = _minutes(now, due, hours)
    if now > due:
        return SlaState(SlaStatus.BREACHED, left)
    total = _minutes(started_at, due, hours)
    at_risk = total <= 0 or left < AT_RISK_BELOW * total
    return SlaState(SlaStatus.AT_RISK if at_risk else SlaStatus.OK, left)
