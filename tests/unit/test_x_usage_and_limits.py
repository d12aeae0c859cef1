"""The spend meter's counting, link detection, and reading X's 15-minute and 24-hour windows."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import httpx
import pytest

from haven.channels.x.client import XApiError, parse_rate_limit
from haven.channels.x.usage import DM_CREATE, POST_CREATE, POST_READ, USER_READ, UsageMeter, has_link


@pytest.mark.parametrize(
    ("text", "linked"),
    [
        ("Thanks, we're on it!", False),
        ("See https://bank.example/help", True),
        ("see bank.example/help for hours", True),
        ("Call us at 0800 123 456, e.g. today.", False),
        ("order no. 12.345.678", False),
        ("http://x", True),
    ],
)
def test_links_are_recognised_the_way_x_would_shorten_them(text: str, linked: bool) -> None:
    assert has_link(text) is linked


def test_the_meter_counts_requests_and_billed_resources() -> None:
    meter = UsageMeter()
    page = {"data": [{"id": "1"}, {"id": "2"}], "includes": {"users": [{"id": "9"}]}}
    for body in (page, {"meta": {"result_count": 0}}):
        meter.count_request(POST_READ)
        meter.count_resources(POST_READ, body)
    meter.count_request(POST_CREATE)
    meter.count_resources(POST_CREATE, {"data": {"id": "3"}})
    meter.count_request(DM_CREATE)  # a failed send: a request, nothing billed
    assert meter.drain() == {POST_READ: (2, 2), USER_READ: (0, 1), POST_CREATE: (1, 1), DM_CREATE: (1, 0)}
    assert meter.drain() == {}


def _headers(**values: str) -> httpx.Headers:
    return httpx.Headers({name.replace("_", "-"): value for name, value in values.items()})


def test_the_24_hour_window_outlasts_the_15_minute_one() -> None:
    soon, tomorrow = int(time.time()) + 900, int(time.time()) + 86_000
    limit = parse_rate_limit(
        _headers(
            x_rate_limit_limit="100",
            x_rate_limit_remaining="40",
            x_rate_limit_reset=str(soon),
            x_user_limit_24hour_limit="1440",
            x_user_limit_24hour_remaining="0",
            x_user_limit_24hour_reset=str(tomorrow),
        )
    )
    assert limit is not None
    assert limit.exhausted_until == datetime.fromtimestamp(tomorrow, UTC)
    error = XApiError(429, "Too Many Requests", "", rate_limit=limit)
    assert error.retry_at == datetime.fromtimestamp(tomorrow + 1, UTC)


def test_a_15_minute_window_used_up_pauses_until_its_reset() -> None:
    limit = parse_rate_limit(
        _headers(x_rate_limit_limit="100", x_rate_limit_remaining="0", x_rate_limit_reset="1700000900")
    )
    assert limit is not None and limit.exhausted_until == datetime.fromtimestamp(1700000900, UTC)
    assert limit.daily_remaining is None


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"x-rate-limit-limit": "a", "x-rate-limit-remaining": "1", "x-rate-limit-reset": "1"},
        {"x-rate-limit-limit": "1", "x-rate-limit-remaining": "1", "x-rate-limit-reset": "9" * 30},
    ],
)
def test_missing_or_garbled_headers_read_as_no_limit(headers: dict[str, str]) -> None:
    assert parse_rate_limit(httpx.Headers(headers)) is None


def test_a_usage_cap_is_terminal_for_the_request_and_names_its_period() -> None:
    error = XApiError(
        429,
        "UsageCapExceeded",
        "Usage cap exceeded: Monthly product cap",
        problem_type="https://api.twitter.com/2/problems/usage-capped",
        period="Monthly",
    )
    assert error.is_usage_cap and error.terminal and error.period == "Monthly"
