"""Retry timing: QStash's default backoff, Retry-After style hints and their precedence."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_qstash.core.backoff import (
    MAX_BACKOFF_SECONDS,
    default_backoff_seconds,
    next_retry_delay_seconds,
    retry_after_seconds,
)
from django_qstash.core.retry_delay import compile_retry_delay

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


def http_date(moment: datetime) -> str:
    return moment.strftime("%a, %d %b %Y %H:%M:%S GMT")


@pytest.mark.parametrize(("retry_number", "seconds"), [
    (1, 12.18),  # the docs' "12 s"
    (2, 148.41),  # 2m28s
    (3, 1808.04),  # 30m8s
    (4, 22026.47),  # 6h7m6s
    (5, 86400),
    (6, 86400),
    (1000, 86400),
    (10**400, 86400),  # must not overflow converting to float
])
def test_default_backoff(retry_number, seconds):
    assert default_backoff_seconds(retry_number) == pytest.approx(seconds, abs=0.01)


@pytest.mark.parametrize("retry_number", [0, -1, -(10**400)])
def test_default_backoff_below_one_is_treated_as_the_first_retry(retry_number):
    assert default_backoff_seconds(retry_number) == pytest.approx(math.exp(2.5))


def test_default_backoff_matches_the_formula():
    for n in range(1, 20):
        assert default_backoff_seconds(n) == pytest.approx(min(86400, math.exp(2.5 * n)))
    assert MAX_BACKOFF_SECONDS == 86400


@given(st.integers())
def test_default_backoff_is_always_bounded(retry_number):
    assert 0 < default_backoff_seconds(retry_number) <= MAX_BACKOFF_SECONDS


@pytest.mark.parametrize(("headers", "seconds"), [
    ({"Retry-After": "10"}, 10),
    ({"Retry-After": "0"}, 0),  # retry immediately
    ({"retry-after": " 10 "}, 10),
    ({"RETRY-AFTER": "10"}, 10),
    ({"Retry-After": "86400"}, 86400),  # exactly one day is still honoured
    ({"Retry-After": http_date(NOW + timedelta(minutes=1))}, 60),
    ({"Retry-After": http_date(NOW - timedelta(minutes=1))}, 0),  # past date: now
    ({"Retry-After": "Wed, 01 Jan 2025 12:01:00 -0000"}, 60),
    ({"Retry-After": "6m5s"}, 365),
    ({"Retry-After": "1.5s"}, 1.5),
    ({"X-RateLimit-Reset": "6m5s"}, 365),
    ({"x-ratelimit-reset-requests": "250ms"}, 0.25),
    ({"X-RateLimit-Reset-Tokens": "1m"}, 60),
    # Order: Retry-After first, then the X-RateLimit-Reset family.
    ({"X-RateLimit-Reset-Tokens": "3s", "Retry-After": "1"}, 1),
    ({"X-RateLimit-Reset-Tokens": "3s", "X-RateLimit-Reset-Requests": "2s"}, 2),
    ({"X-RateLimit-Reset-Requests": "2s", "X-RateLimit-Reset": "4s"}, 4),
    # Unusable values fall through to the next header.
    ({"Retry-After": "86401", "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "-1", "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "-5s", "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "soon", "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "", "X-RateLimit-Reset": "5s"}, 5),
    ({"X-RateLimit-Reset": "1735732800", "X-RateLimit-Reset-Requests": "7s"}, 7),  # unix time
    ({"Retry-After": http_date(NOW + timedelta(days=2)), "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "25h", "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "9" * 5000, "X-RateLimit-Reset": "5s"}, 5),
    ({"Retry-After": "\u00b2", "X-RateLimit-Reset": "5s"}, 5),
])
def test_retry_after_seconds(headers, seconds):
    assert retry_after_seconds(headers, NOW) == pytest.approx(seconds)


@pytest.mark.parametrize("headers", [
    {},
    {"Content-Type": "text/plain"},
    {"Retry-After": "86401"},
    {"Retry-After": "-1"},
    {"Retry-After": "later"},
    {"Retry-After": "1.5"},  # neither an integer nor a Go duration (no unit)
    {"Retry-After": "Mon, 99 Foo 2025 99:99:99 GMT"},
    {"X-RateLimit-Reset": "1735732800"},
    {"X-RateLimit-Limit": "10"},
])
def test_retry_after_seconds_without_a_usable_hint(headers):
    assert retry_after_seconds(headers, NOW) is None


def test_retry_after_accepts_case_insensitive_mappings():
    httpx = pytest.importorskip("httpx")
    assert retry_after_seconds(httpx.Headers({"Retry-After": "7"}), NOW) == 7
    assert retry_after_seconds(httpx.Headers([("x-ratelimit-reset", "2s")]), NOW) == 2


def test_retry_after_with_naive_now_assumes_utc():
    naive = NOW.replace(tzinfo=None)
    assert retry_after_seconds({"Retry-After": http_date(NOW + timedelta(seconds=30))},
                               naive) == pytest.approx(30)


@given(st.dictionaries(st.sampled_from(["Retry-After", "retry-after", "X-RateLimit-Reset",
                                        "X-RateLimit-Reset-Requests", "X-Other"]),
                       st.text(max_size=60)))
def test_retry_after_never_raises(headers):
    result = retry_after_seconds(headers, NOW)
    assert result is None or 0 <= result <= MAX_BACKOFF_SECONDS


@pytest.mark.parametrize(("retried_so_far", "expression", "headers", "seconds"), [
    # No hint, no expression: the default backoff with n = retried_so_far + 1.
    (0, None, {}, math.exp(2.5)),
    (1, None, {}, math.exp(5)),
    (4, None, {}, 86400),
    (50, None, {}, 86400),
    # The expression is in milliseconds and sees retries done so far (0 before the first retry).
    (0, "1000 * (1 + retried)", {}, 1),
    (2, "1000 * (1 + retried)", {}, 3),
    (3, "pow(2, retried) * 1000", {}, 8),
    (0, "0", {}, 0),
    (0, "pow(10, 1000)", {}, 365 * 86400),
    # A destination hint wins over both.
    (0, "1000 * (1 + retried)", {"Retry-After": "30"}, 30),
    (3, None, {"Retry-After": "0"}, 0),
    (3, None, {"X-RateLimit-Reset": "6m5s"}, 365),
    # An unusable hint is ignored.
    (0, "5000", {"Retry-After": "86401"}, 5),
    (0, None, {"Retry-After": "nonsense"}, math.exp(2.5)),
    # An expression failing at evaluation time falls back to the default.
    (0, "1000 / retried", {}, math.exp(2.5)),
    (2, "1000 / retried", {}, 0.5),
])
def test_next_retry_delay_seconds(retried_so_far, expression, headers, seconds):
    compiled = compile_retry_delay(expression) if expression is not None else None
    delay = next_retry_delay_seconds(retried_so_far, compiled, headers, NOW)
    assert delay == pytest.approx(seconds)


def test_next_retry_delay_accepts_missing_headers():
    assert next_retry_delay_seconds(0, None, None, NOW) == pytest.approx(math.exp(2.5))
