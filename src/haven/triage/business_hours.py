"""The SLA clock: when a brand is open, and how business time adds up across nights, weekends,
holidays and daylight-saving changes.

Business hours are a JSON document per brand: a time zone (IANA), opening intervals per weekday in
that zone's wall-clock time, and whole days closed. Business time is real elapsed time while open:
an evening the clocks go back has one more hour in it. A wall-clock time the clocks skip ("01:30"
on the night they go forward) counts from the moment they skip it.

Instants follow the project's convention (``haven.kit.clock``): timezone-aware datetimes, returned
in UTC; naive ones are refused rather than guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, PrivateAttr, StrictStr

MAX_INTERVALS_PER_DAY = 12
MAX_HOLIDAYS = 1000
WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")

_CLOCK_TIME = re.compile(r"(?:[01]\d|2[0-3]):[0-5]\d|24:00")
_ZONE_KEY = re.compile(r"[A-Za-z0-9_+\-]+(?:/[A-Za-z0-9_+\-]+)*")
# Long enough to cross every holiday and a closed week; beyond that the schedule is never open.
_MAX_CLOSED_DAYS = MAX_HOLIDAYS + 14


class NeverOpen(ValueError):
    """Business hours with no open time: no business time can ever elapse."""


def _zone_key(value: str) -> str:
    if _ZONE_KEY.fullmatch(value):
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
        else:
            return value
    raise ValueError("is not a known IANA time zone, such as 'Europe/London'")


def _minutes(clock: str) -> int:
    hours, minutes = clock.split(":")
    return int(hours) * 60 + int(minutes)


def _clock_time(value: str) -> str:
    if not _CLOCK_TIME.fullmatch(value):
        raise ValueError(f"{value[:10]!r} is not a time of day as HH:MM")
    return value


def _valid_day(intervals: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    previous_end = 0
    for start, end in intervals:
        if start == "24:00":
            raise ValueError("an interval cannot start at 24:00")
        if _minutes(start) >= _minutes(end):
            raise ValueError(f"{start}–{end} must end after it starts")
        if _minutes(start) < previous_end:
            raise ValueError(f"{start}–{end} overlaps or comes before the interval ahead of it")
        previous_end = _minutes(end)
    return intervals


def _iso_date(value: Any) -> Any:
    # Pydantic would also read a number as a date (seconds since 1970): admins mean calendar days.
    if isinstance(value, str | date):
        return value
    raise ValueError("must be a date as YYYY-MM-DD")


ClockTime = Annotated[StrictStr, Field(max_length=5), AfterValidator(_clock_time)]
Day = Annotated[
    tuple[tuple[ClockTime, ClockTime], ...],
    Field(max_length=MAX_INTERVALS_PER_DAY),
    AfterValidator(_valid_day),
]
Holiday = Annotated[date, BeforeValidator(_iso_date)]


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Week(_Document):
    """Each weekday's opening intervals, ``[["08:00", "20:00"]]``; an empty day is closed."""

    mon: Day = ()
    tue: Day = ()
    wed: Day = ()
    thu: Day = ()
    fri: Day = ()
    sat: Day = ()
    sun: Day = ()


def _some_open_time(week: Week) -> Week:
    if not any(getattr(week, day) for day in WEEKDAYS):
        raise ValueError("open at least one interval in the week; use always_open() for 24/7")
    return week


def _no_repeats(holidays: tuple[date, ...]) -> tuple[date, ...]:
    if len(set(holidays)) != len(holidays):
        raise ValueError("lists a day twice")
    return holidays


class BusinessHours(_Document):
    timezone: Annotated[StrictStr, Field(max_length=64), AfterValidator(_zone_key)]
    week: Annotated[Week, AfterValidator(_some_open_time)]
    #: Whole days closed, in the brand's time zone.
    holidays: Annotated[tuple[Holiday, ...], Field(max_length=MAX_HOLIDAYS), AfterValidator(_no_repeats)] = ()

    _zone: ZoneInfo = PrivateAttr()
    _days: tuple[tuple[tuple[int, int], ...], ...] = PrivateAttr()
    _closed: frozenset[date] = PrivateAttr()

    def model_post_init(self, context: Any, /) -> None:
        self._zone = ZoneInfo(self.timezone)
        self._days = tuple(
            tuple((_minutes(start), _minutes(end)) for start, end in getattr(self.week, day))
            for day in WEEKDAYS
        )
        self._closed = frozenset(self.holidays)

    def open_spans(self, day: date) -> list[tuple[datetime, datetime]]:
        """The day's (local date) open intervals as UTC instants, in order."""
        if day in self._closed:
            return []
        spans = []
        for start, end in self._days[day.weekday()]:
            opens, closes = self._instant(day, start), self._instant(day, end)
            if opens < closes:
                spans.append((opens, closes))
        return spans

    def _instant(self, day: date, minute: int) -> datetime:
        """The first instant the local clock reads ``minute`` past midnight of ``day``, or later."""
        wall = datetime.combine(day, time()) + timedelta(minutes=minute)
        instant = wall.replace(tzinfo=self._zone).astimezone(UTC)
        if instant.astimezone(self._zone).replace(tzinfo=None) == wall:
            return instant
        # The clocks skip this time: open from the moment they jump, which lies between reading
        # the wall time with the offset after the jump (too early) and before it (too late).
        early = wall.replace(tzinfo=self._zone, fold=1).astimezone(UTC)
        before = early.astimezone(self._zone).utcoffset()
        low, high = int(early.timestamp()), int(instant.timestamp())
        while high - low > 1:
            middle = (low + high) // 2
            if datetime.fromtimestamp(middle, self._zone).utcoffset() == before:
                low = middle
            else:
                high = middle
        return datetime.fromtimestamp(high, UTC)

    def local_date(self, instant: datetime) -> date:
        return instant.astimezone(self._zone).date()


def always_open() -> BusinessHours:
    """Open around the clock, every day: business time is calendar time."""
    day = (("00:00", "24:00"),)
    return BusinessHours(
        timezone="UTC",
        week=Week(mon=day, tue=day, wed=day, thu=day, fri=day, sat=day, sun=day),
    )


def default_business_hours() -> BusinessHours:
    """A UK bank's social desk: weekdays 08:00–20:00 and Saturdays 09:00–17:00, London time."""
    weekday = (("08:00", "20:00"),)
    return BusinessHours(
        timezone="Europe/London",
        week=Week(mon=weekday, tue=weekday, wed=weekday, thu=weekday, fri=weekday, sat=(("09:00", "17:00"),)),
    )


def aware_utc(instant: datetime, name: str) -> datetime:
    """``instant`` in UTC; a naive datetime is refused (``name`` says which in the error)."""
    if instant.tzinfo is None or instant.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (see haven.kit.clock.utcnow)")
    return instant.astimezone(UTC)


def _spans_from(start: datetime, hours: BusinessHours) -> Iterator[tuple[datetime, datetime]]:
    """Open spans from ``start`` on, clipped to begin no earlier; raises ``NeverOpen`` when none come."""
    day = hours.local_date(start)
    closed_days = 0
    while closed_days <= _MAX_CLOSED_DAYS:
        spans = [(max(opens, start), closes) for opens, closes in hours.open_spans(day) if closes > start]
        closed_days = 0 if spans else closed_days + 1
        yield from spans
        day += timedelta(days=1)
    raise NeverOpen(f"the business hours are closed {_MAX_CLOSED_DAYS:,} days in a row: never open")


def add_business_time(start: datetime, minutes: int, hours: BusinessHours) -> datetime:
    """The UTC instant when ``minutes`` of business time have elapsed since ``start``.

    From a closed time the count begins at the next opening; zero minutes is ``start`` itself.
    """
    start = aware_utc(start, "start")
    if minutes < 0:
        raise ValueError("minutes must not be negative")
    left = timedelta(minutes=minutes)
    if not left:
        return start
    spans = _spans_from(start, hours)
    while True:
        opens, closes = next(spans)
        if closes - opens >= left:
            return opens + left
        left -= closes - opens


def business_minutes_between(start: datetime, end: datetime, hours: BusinessHours) -> float:
    """Business minutes from ``start`` to ``end``; negative when ``end`` comes first (overdue)."""
    start, end = aware_utc(start, "start"), aware_utc(end, "end")
    if end < start:
        return -business_minutes_between(end, start, hours)
    elapsed = timedelta()
    day, last = hours.local_date(start), hours.local_date(end)
    while day <= last:
        for opens, closes in hours.open_spans(day):
            elapsed += max(timedelta(), min(closes, end) - max(opens, start))
        day += timedelta(days=1)
    return elapsed / timedelta(minutes=1)
