from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from haven.triage.business_hours import add_business_time, always_open, default_business_hours
from haven.triage.sla import (
    SlaDue,
    SlaState,
    SlaStatus,
    SlaTarget,
    SlaTargets,
    due_times,
    sla_state,
)

HOURS = default_business_hours()
TARGETS = SlaTargets()


def london(*args: int) -> datetime:
    return datetime(*args, tzinfo=ZoneInfo("Europe/London")).astimezone(UTC)


def test_default_targets() -> None:
    assert [
        (t.first_response_minutes, t.resolution_minutes, t.business_hours_apply)
        for t in (TARGETS.p1, TARGETS.p2, TARGETS.p3, TARGETS.p4)
    ] == [(15, 240, False), (60, 480, True), (240, 1440, True), (480, 4320, True)]


def test_p1_runs_on_calendar_time_at_night() -> None:
    saturday_night = london(2026, 6, 6, 23, 0)
    assert due_times(saturday_night, 1, TARGETS, HOURS) == SlaDue(
        first_response_due=london(2026, 6, 6, 23, 15),
        resolution_due=london(2026, 6, 7, 3, 0),
    )


def test_p3_runs_on_business_time() -> None:
    # Friday 19:00: one hour on Friday, the rest from Saturday 09:00.
    friday_evening = london(2026, 6, 5, 19, 0)
    assert due_times(friday_evening, 3, TARGETS, HOURS) == SlaDue(
        first_response_due=london(2026, 6, 6, 12, 0),
        # 24 business hours: Fri 1 + Sat 8 + Mon 12 + Tue 3.
        resolution_due=london(2026, 6, 9, 11, 0),
    )


def test_each_priority_uses_its_own_target() -> None:
    opened = london(2026, 6, 3, 9, 0)
    firsts = [due_times(opened, p, TARGETS, HOURS).first_response_due for p in (1, 2, 3, 4)]
    assert firsts == [
        london(2026, 6, 3, 9, 15),
        london(2026, 6, 3, 10, 0),
        london(2026, 6, 3, 13, 0),
        london(2026, 6, 3, 17, 0),
    ]


def test_due_times_are_aware_utc() -> None:
    due = due_times(datetime(2026, 6, 3, 9, 0, tzinfo=ZoneInfo("Europe/Paris")), 1, TARGETS, HOURS)
    assert due.first_response_due == datetime(2026, 6, 3, 7, 15, tzinfo=UTC)
    assert due.first_response_due.tzinfo is UTC


def test_naive_times_are_refused() -> None:
    for priority in (1, 3):
        with pytest.raises(ValueError, match="timezone-aware"):
            due_times(datetime(2026, 6, 3, 9, 0), priority, TARGETS, HOURS)
    with pytest.raises(ValueError, match="now must be timezone-aware"):
        sla_state(
            datetime(2026, 6, 3), london(2026, 6, 3, 9), None, started_at=london(2026, 6, 3, 8), hours=None
        )


def test_an_unknown_priority_is_refused() -> None:
    with pytest.raises(ValueError, match="no priority P5"):
        due_times(london(2026, 6, 3, 9, 0), 5, TARGETS, HOURS)


def test_hours_for_follows_the_target() -> None:
    assert TARGETS.hours_for(1, HOURS) is None
    assert TARGETS.hours_for(2, HOURS) is HOURS


def test_targets_round_trip_and_partial_documents_keep_defaults() -> None:
    assert SlaTargets.model_validate_json(TARGETS.model_dump_json()) == TARGETS
    custom = SlaTargets.model_validate({"p2": {"first_response_minutes": 30, "resolution_minutes": 120}})
    assert custom.p2 == SlaTarget(first_response_minutes=30, resolution_minutes=120)
    assert custom.p1 == TARGETS.p1
    assert json.loads(custom.model_dump_json())["p2"]["business_hours_apply"] is True


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            {"p1": {"first_response_minutes": 300, "resolution_minutes": 60}},
            "p1: Value error, the first response cannot be due after the resolution",
        ),
        (
            {"p1": {"first_response_minutes": 0, "resolution_minutes": 60}},
            "p1.first_response_minutes: Input should be greater than or equal to 1",
        ),
        (
            {"p1": {"first_response_minutes": 15, "resolution_minutes": 43_201}},
            "p1.resolution_minutes: Input should be less than or equal to 43200",
        ),
        (
            {"p1": {"first_response_minutes": "15", "resolution_minutes": 60}},
            "p1.first_response_minutes: Input should be a valid integer",
        ),
        (
            {"p1": {"first_response_minutes": 15, "resolution_minutes": 60, "business_hours_apply": "no"}},
            "p1.business_hours_apply: Input should be a valid boolean",
        ),
        ({"p1": {"first_response_minutes": 15}}, "p1.resolution_minutes: Field required"),
        (
            {"p5": {"first_response_minutes": 15, "resolution_minutes": 60}},
            "p5: Extra inputs are not permitted",
        ),
    ],
)
def test_invalid_targets_are_refused(document: object, expected: str) -> None:
    with pytest.raises(ValidationError) as caught:
        SlaTargets.model_validate(document)
    [error] = caught.value.errors()
    assert f"{'.'.join(map(str, error['loc']))}: {error['msg']}" == expected


# The state of one clock

START = london(2026, 6, 3, 9, 0)
DUE = START + timedelta(minutes=100)


def state(now: datetime, done_at: datetime | None = None) -> SlaState:
    return sla_state(now, DUE, done_at, started_at=START, hours=None)


def test_a_clock_with_plenty_of_time_is_ok() -> None:
    assert state(START) == SlaState(SlaStatus.OK, 100)
    assert state(START + timedelta(minutes=80)) == SlaState(SlaStatus.OK, 20)


def test_less_than_a_fifth_left_is_at_risk() -> None:
    assert state(START + timedelta(minutes=81)) == SlaState(SlaStatus.AT_RISK, 19)
    assert state(DUE) == SlaState(SlaStatus.AT_RISK, 0)


def test_past_the_deadline_is_breached() -> None:
    assert state(DUE + timedelta(minutes=5)) == SlaState(SlaStatus.BREACHED, -5)


def test_done_in_time_is_met_with_the_time_to_spare() -> None:
    done = START + timedelta(minutes=30)
    assert state(DUE + timedelta(days=1), done_at=done) == SlaState(SlaStatus.MET, 70)
    assert state(DUE, done_at=DUE) == SlaState(SlaStatus.MET, 0)


def test_done_late_stays_breached() -> None:
    assert state(DUE + timedelta(days=1), done_at=DUE + timedelta(minutes=12)) == SlaState(
        SlaStatus.BREACHED, -12
    )


def test_business_time_left_does_not_run_down_while_closed() -> None:
    # P3 opened Friday 19:00, first response due Saturday 12:00 (four business hours).
    opened = london(2026, 6, 5, 19, 0)
    due = due_times(opened, 3, TARGETS, HOURS).first_response_due
    hours = TARGETS.hours_for(3, HOURS)

    def at(now: datetime) -> SlaState:
        return sla_state(now, due, None, started_at=opened, hours=hours)

    assert at(london(2026, 6, 5, 23, 0)) == SlaState(SlaStatus.OK, 180)
    assert at(london(2026, 6, 6, 8, 59)) == SlaState(SlaStatus.OK, 180)
    assert at(london(2026, 6, 6, 11, 0)) == SlaState(SlaStatus.OK, 60)
    assert at(london(2026, 6, 6, 11, 20)) == SlaState(SlaStatus.AT_RISK, 40)
    # Overdue by Saturday 12:00–17:00 and Monday 08:00–09:00; Sunday is closed.
    assert at(london(2026, 6, 8, 9, 0)) == SlaState(SlaStatus.BREACHED, -360)


@settings(deadline=None)
@given(
    st.datetimes(datetime(2026, 1, 1), datetime(2027, 1, 1), timezones=st.just(UTC)),
    st.integers(1, 4),
    st.integers(0, 10_000),
)
def test_a_clock_is_never_breached_before_its_deadline(opened: datetime, priority: int, elapsed: int) -> None:
    due = due_times(opened, priority, TARGETS, HOURS)
    now = opened + timedelta(minutes=elapsed)
    hours = TARGETS.hours_for(priority, HOURS)
    for deadline in (due.first_response_due, due.resolution_due):
        status = sla_state(now, deadline, None, started_at=opened, hours=hours).status
        assert (status is SlaStatus.BREACHED) == (now > deadline)


def test_always_open_hours_make_business_and_calendar_time_agree() -> None:
    opened = london(2026, 3, 28, 22, 0)  # the night the clocks go forward
    due = add_business_time(opened, 240, always_open())
    assert due == opened + timedelta(minutes=240)
    for elapsed in (0, 200, 239, 300):
        now = opened + timedelta(minutes=elapsed)
        business = sla_state(now, due, None, started_at=opened, hours=always_open())
        assert business == sla_state(now, due, None, started_at=opened, hours=None)
        assert business.minutes_left == 240 - elapsed
