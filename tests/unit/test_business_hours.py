from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from haven.triage.business_hours import (
    WEEKDAYS,
    BusinessHours,
    NeverOpen,
    Week,
    add_business_time,
    always_open,
    business_minutes_between,
    default_business_hours,
)

LONDON = ZoneInfo("Europe/London")
HOURS = default_business_hours()


def london(*args: int) -> datetime:
    """A London wall-clock time as an aware UTC instant."""
    return datetime(*args, tzinfo=LONDON).astimezone(UTC)


def add(start: datetime, minutes: int, hours: BusinessHours = HOURS) -> datetime:
    return add_business_time(start, minutes, hours)


def between(start: datetime, end: datetime, hours: BusinessHours = HOURS) -> float:
    return business_minutes_between(start, end, hours)


# The default schedule: Mon–Fri 08:00–20:00, Sat 09:00–17:00, London


def test_within_one_open_day() -> None:
    assert add(london(2026, 6, 3, 10, 0), 90) == london(2026, 6, 3, 11, 30)


def test_the_result_is_aware_utc() -> None:
    result = add(london(2026, 6, 3, 10, 0), 90)
    assert result.tzinfo is UTC
    assert add(datetime(2026, 6, 3, 11, 0, tzinfo=LONDON), 30).tzinfo is UTC


def test_evening_carries_over_to_the_next_morning() -> None:
    # Tuesday 19:30 + 60 minutes: 30 tonight, 30 from Wednesday 08:00.
    assert add(london(2026, 6, 2, 19, 30), 60) == london(2026, 6, 3, 8, 30)


def test_starting_at_night_counts_from_opening() -> None:
    assert add(london(2026, 6, 2, 23, 0), 30) == london(2026, 6, 3, 8, 30)
    assert add(london(2026, 6, 3, 3, 0), 30) == london(2026, 6, 3, 8, 30)


def test_friday_evening_runs_into_saturday_hours() -> None:
    assert add(london(2026, 6, 5, 19, 30), 60) == london(2026, 6, 6, 9, 30)


def test_sunday_is_closed() -> None:
    # Saturday 16:30 + 60: 30 on Saturday, none on Sunday, 30 on Monday.
    assert add(london(2026, 6, 6, 16, 30), 60) == london(2026, 6, 8, 8, 30)


def test_zero_minutes_is_the_start_even_when_closed() -> None:
    sunday_night = london(2026, 6, 7, 23, 0)
    assert add(sunday_night, 0) == sunday_night


def test_ending_exactly_at_closing_time() -> None:
    assert add(london(2026, 6, 3, 19, 0), 60) == london(2026, 6, 3, 20, 0)


def test_a_full_week() -> None:
    week = 5 * 12 * 60 + 8 * 60
    monday = london(2026, 6, 1, 0, 0)
    assert between(monday, monday + timedelta(days=7)) == week
    assert add(london(2026, 6, 1, 8, 0), week) == london(2026, 6, 6, 17, 0)
    assert add(london(2026, 6, 1, 8, 0), week + 1) == london(2026, 6, 8, 8, 1)


def test_spring_forward() -> None:
    # Clocks go forward on Sunday 29 March 2026: Saturday 16:30 GMT + 60 → Monday 08:30 BST.
    assert add(london(2026, 3, 28, 16, 30), 60) == datetime(2026, 3, 30, 7, 30, tzinfo=UTC)


def test_fall_back() -> None:
    # Clocks go back on Sunday 25 October 2026: Saturday 16:30 BST + 60 → Monday 08:30 GMT.
    assert add(london(2026, 10, 24, 16, 30), 60) == datetime(2026, 10, 26, 8, 30, tzinfo=UTC)


def test_business_time_is_real_elapsed_time_across_dst_days() -> None:
    around_the_clock = BusinessHours(
        timezone="Europe/London", week=Week(**dict.fromkeys(WEEKDAYS, (("00:00", "24:00"),)))
    )
    assert between(london(2026, 3, 29, 0, 0), london(2026, 3, 30, 0, 0), around_the_clock) == 23 * 60
    assert between(london(2026, 10, 25, 0, 0), london(2026, 10, 26, 0, 0), around_the_clock) == 25 * 60


def test_a_wall_time_the_clocks_skip_counts_from_the_jump() -> None:
    # Open 01:30–02:30 on Sundays. On 29 March 01:00–02:00 does not exist in London: the day has
    # only 02:00–02:30 BST, which is 01:00–01:30 UTC.
    night = BusinessHours(timezone="Europe/London", week=Week(sun=(("01:30", "02:30"),)))
    assert add(london(2026, 3, 28, 12, 0), 30, night) == datetime(2026, 3, 29, 1, 30, tzinfo=UTC)
    assert add(london(2026, 3, 28, 12, 0), 31, night) == datetime(2026, 4, 5, 0, 31, tzinfo=UTC)
    assert between(london(2026, 3, 22, 0, 0), london(2026, 3, 23, 0, 0), night) == 60


def test_midnight_in_a_zone_whose_clocks_skip_midnight() -> None:
    # Chile moved its clocks from 00:00 to 01:00 on 7 September 2025.
    santiago = BusinessHours(timezone="America/Santiago", week=Week(sun=(("00:00", "02:00"),)))
    start = datetime(2025, 9, 6, 12, 0, tzinfo=UTC)
    opens = datetime(2025, 9, 7, 4, 0, tzinfo=UTC)  # 01:00 -03, the first instant of that Sunday
    assert add(start, 1, santiago) == opens + timedelta(minutes=1)
    assert add(start, 60, santiago) == opens + timedelta(minutes=60)
    assert add(start, 61, santiago) > opens + timedelta(days=6)


def test_holidays_are_closed_all_day() -> None:
    christmas = BusinessHours.model_validate(
        HOURS.model_dump() | {"holidays": ["2026-12-25", "2026-12-26", "2026-12-28"]}
    )
    # Thursday 24 December 19:30 + 60: 30 that evening, then Friday, Saturday and Monday are
    # holidays and Sunday is closed, so the rest comes on Tuesday the 29th.
    assert add(london(2026, 12, 24, 19, 30), 60, christmas) == london(2026, 12, 29, 8, 30)
    assert between(london(2026, 12, 24, 0, 0), london(2026, 12, 30, 0, 0), christmas) == 2 * 12 * 60


def test_a_holiday_is_a_local_date() -> None:
    # 23:30 UTC on 31 December is already 1 January in Auckland.
    auckland = BusinessHours(
        timezone="Pacific/Auckland",
        week=Week(**dict.fromkeys(WEEKDAYS, (("00:00", "24:00"),))),
        holidays=(date(2027, 1, 1),),
    )
    assert add(datetime(2026, 12, 31, 11, 30, tzinfo=UTC), 1, auckland) == datetime(
        2027, 1, 1, 11, 1, tzinfo=UTC
    )


def test_several_intervals_a_day() -> None:
    split = BusinessHours(timezone="UTC", week=Week(mon=(("09:00", "12:00"), ("13:00", "17:00"))))
    monday = datetime(2026, 6, 1, 11, 0, tzinfo=UTC)
    assert add(monday, 90, split) == datetime(2026, 6, 1, 13, 30, tzinfo=UTC)
    assert between(monday, datetime(2026, 6, 1, 18, 0, tzinfo=UTC), split) == 60 + 240


def test_always_open_is_calendar_time() -> None:
    start = datetime(2026, 3, 28, 22, 17, 5, tzinfo=UTC)
    assert add(start, 10_000, always_open()) == start + timedelta(minutes=10_000)


def test_huge_durations() -> None:
    start = london(2026, 1, 1, 12, 0)
    result = add(start, 1_000_000)
    assert datetime(2030, 1, 1, tzinfo=UTC) < result < datetime(2031, 1, 1, tzinfo=UTC)
    assert between(start, result) == 1_000_000


def test_between_is_negative_when_the_end_comes_first() -> None:
    start, end = london(2026, 6, 3, 10, 0), london(2026, 6, 4, 9, 0)
    assert between(start, end) == 11 * 60
    assert between(end, start) == -11 * 60
    assert between(start, start) == 0


def test_between_counts_nothing_while_closed() -> None:
    assert between(london(2026, 6, 6, 17, 0), london(2026, 6, 8, 8, 0)) == 0


def test_naive_datetimes_are_refused() -> None:
    with pytest.raises(ValueError, match="start must be timezone-aware"):
        add(datetime(2026, 6, 3, 10, 0), 5)
    with pytest.raises(ValueError, match="end must be timezone-aware"):
        between(london(2026, 6, 3, 10, 0), datetime(2026, 6, 3, 11, 0))


def test_negative_minutes_are_refused() -> None:
    with pytest.raises(ValueError, match="must not be negative"):
        add(london(2026, 6, 3, 10, 0), -1)


def test_a_schedule_that_is_never_open_raises_instead_of_looping() -> None:
    never = BusinessHours.model_construct(timezone="UTC", week=Week(), holidays=())
    with pytest.raises(NeverOpen, match="closed 1,014 days in a row"):
        add(datetime(2026, 1, 1, tzinfo=UTC), 5, never)


# The document


def test_the_default_schedule() -> None:
    assert json.loads(HOURS.model_dump_json()) == {
        "timezone": "Europe/London",
        "week": {
            "mon": [["08:00", "20:00"]],
            "tue": [["08:00", "20:00"]],
            "wed": [["08:00", "20:00"]],
            "thu": [["08:00", "20:00"]],
            "fri": [["08:00", "20:00"]],
            "sat": [["09:00", "17:00"]],
            "sun": [],
        },
        "holidays": [],
    }


def test_documents_round_trip() -> None:
    hours = BusinessHours.model_validate(HOURS.model_dump() | {"holidays": ["2026-12-25"]})
    assert BusinessHours.model_validate_json(hours.model_dump_json()) == hours
    assert BusinessHours.model_validate(json.loads(hours.model_dump_json())) == hours
    assert hours.holidays == (date(2026, 12, 25),)


def test_missing_days_are_closed_and_24_00_ends_a_day() -> None:
    hours = BusinessHours.model_validate({"timezone": "UTC", "week": {"fri": [["18:00", "24:00"]]}})
    assert add(datetime(2026, 6, 5, 23, 0, tzinfo=UTC), 90, hours) == datetime(
        2026, 6, 12, 18, 30, tzinfo=UTC
    )


def error_of(document: dict[str, Any]) -> str:
    with pytest.raises(ValidationError) as caught:
        BusinessHours.model_validate(document)
    [error] = caught.value.errors()
    return f"{'.'.join(map(str, error['loc']))}: {error['msg']}"


def doc(**changes: Any) -> dict[str, Any]:
    return {"timezone": "Europe/London", "week": {"mon": [["08:00", "20:00"]]}} | changes


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        (
            doc(timezone="Mars/Olympus"),
            "timezone: Value error, is not a known IANA time zone, such as 'Europe/London'",
        ),
        (
            doc(timezone="../../etc/passwd"),
            "timezone: Value error, is not a known IANA time zone, such as 'Europe/London'",
        ),
        (
            doc(timezone="/etc/localtime"),
            "timezone: Value error, is not a known IANA time zone, such as 'Europe/London'",
        ),
        (
            doc(timezone="Europe"),
            "timezone: Value error, is not a known IANA time zone, such as 'Europe/London'",
        ),
        (
            doc(timezone="europe/london"),
            "timezone: Value error, is not a known IANA time zone, such as 'Europe/London'",
        ),
        (doc(timezone="x" * 65), "timezone: String should have at most 64 characters"),
        (doc(timezone=0), "timezone: Input should be a valid string"),
        (
            doc(week={"mon": [["8:00", "20:00"]]}),
            "week.mon.0.0: Value error, '8:00' is not a time of day as HH:MM",
        ),
        (
            doc(week={"mon": [["08:00", "25:00"]]}),
            "week.mon.0.1: Value error, '25:00' is not a time of day as HH:MM",
        ),
        (doc(week={"mon": [["08:00", "20:00:00"]]}), "week.mon.0.1: String should have at most 5 characters"),
        (doc(week={"mon": [["24:00", "24:00"]]}), "week.mon: Value error, an interval cannot start at 24:00"),
        (
            doc(week={"mon": [["20:00", "08:00"]]}),
            "week.mon: Value error, 20:00–08:00 must end after it starts",
        ),
        (
            doc(week={"mon": [["08:00", "08:00"]]}),
            "week.mon: Value error, 08:00–08:00 must end after it starts",
        ),
        (
            doc(week={"mon": [["08:00", "12:00"], ["11:00", "14:00"]]}),
            "week.mon: Value error, 11:00–14:00 overlaps or comes before the interval ahead of it",
        ),
        (
            doc(week={"mon": [["13:00", "14:00"], ["08:00", "12:00"]]}),
            "week.mon: Value error, 08:00–12:00 overlaps or comes before the interval ahead of it",
        ),
        (doc(week={"mon": [["08:00"]]}), "week.mon.0.1: Field required"),
        (doc(week={"mon": [["08:00", 1200]]}), "week.mon.0.1: Input should be a valid string"),
        (doc(week={"monday": [["08:00", "20:00"]]}), "week.monday: Extra inputs are not permitted"),
        (
            doc(week={"mon": [["00:00", "01:00"]] * 13}),
            "week.mon: Tuple should have at most 12 items after validation, not 13",
        ),
        (
            doc(week={}),
            "week: Value error, open at least one interval in the week; use always_open() for 24/7",
        ),
        (
            doc(week={"sat": []}),
            "week: Value error, open at least one interval in the week; use always_open() for 24/7",
        ),
        (doc(holidays=[20261225]), "holidays.0: Value error, must be a date as YYYY-MM-DD"),
        (
            doc(holidays=["25/12/2026"]),
            "holidays.0: Input should be a valid date or datetime, invalid character in year",
        ),
        (doc(holidays=["2026-12-25", "2026-12-25"]), "holidays: Value error, lists a day twice"),
        (
            doc(holidays=[(date(2026, 1, 1) + timedelta(days=n)).isoformat() for n in range(1001)]),
            "holidays: Tuple should have at most 1000 items after validation, not 1001",
        ),
        (doc(open=True), "open: Extra inputs are not permitted"),
    ],
)
def test_invalid_schedules_are_refused(document: dict[str, Any], expected: str) -> None:
    assert error_of(document) == expected


def test_touching_intervals_are_allowed() -> None:
    hours = BusinessHours.model_validate(doc(week={"mon": [["08:00", "12:00"], ["12:00", "24:00"]]}))
    assert between(london(2026, 6, 1, 0, 0), london(2026, 6, 2, 0, 0), hours) == 16 * 60


# Properties over random schedules, zones and starts

ZONES = [
    "UTC",
    "Europe/London",
    "America/New_York",
    "America/Santiago",
    "Australia/Lord_Howe",
    "Asia/Kolkata",
]


@st.composite
def schedules(draw: st.DrawFn) -> BusinessHours:
    week: dict[str, list[list[str]]] = {}
    for day in WEEKDAYS:
        edges = sorted(draw(st.sets(st.integers(0, 24 * 60), max_size=6)))
        edges = edges[: len(edges) // 2 * 2]
        week[day] = [
            [f"{start // 60:02d}:{start % 60:02d}", f"{end // 60:02d}:{end % 60:02d}"]
            for start, end in zip(edges[::2], edges[1::2], strict=True)
        ]
    if not any(week.values()):
        week["wed"] = [["09:00", "17:00"]]
    holidays = draw(st.lists(st.dates(date(2026, 1, 1), date(2026, 12, 31)), max_size=20, unique=True))
    return BusinessHours.model_validate(
        {
            "timezone": draw(st.sampled_from(ZONES)),
            "week": week,
            "holidays": [d.isoformat() for d in holidays],
        }
    )


starts = st.datetimes(datetime(2025, 10, 1), datetime(2027, 3, 1), timezones=st.just(UTC))
minutes = st.integers(0, 30_000)


@settings(max_examples=200, deadline=None)
@given(schedules(), starts, minutes)
def test_business_time_added_is_business_time_elapsed(hours: BusinessHours, start: datetime, m: int) -> None:
    assert between(start, add(start, m, hours), hours) == m


@settings(max_examples=200, deadline=None)
@given(schedules(), starts, minutes, minutes)
def test_more_minutes_never_end_sooner(hours: BusinessHours, start: datetime, a: int, b: int) -> None:
    low, high = sorted((a, b))
    assert start <= add(start, low, hours) <= add(start, high, hours)


@settings(max_examples=200, deadline=None)
@given(schedules(), starts, st.integers(1, 30_000))
def test_the_deadline_falls_in_open_time(hours: BusinessHours, start: datetime, m: int) -> None:
    result = add(start, m, hours)
    just_before = result - timedelta(microseconds=1)
    assert between(just_before, result, hours) > 0


@settings(max_examples=100, deadline=None)
@given(schedules(), starts, starts, starts)
def test_between_adds_up_over_consecutive_ranges(
    hours: BusinessHours, a: datetime, b: datetime, c: datetime
) -> None:
    first, middle, last = sorted((a, b, c))
    total = between(first, last, hours)
    assert total == pytest.approx(between(first, middle, hours) + between(middle, last, hours))
    assert 0 <= total <= (last - first) / timedelta(minutes=1)
