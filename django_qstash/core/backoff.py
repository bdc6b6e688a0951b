"""When to retry: Retry-After style headers, else the message's expression, else the default."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime

from django_qstash.core.durations import DurationError, parse_go_duration
from django_qstash.core.retry_delay import RetryDelayError, RetryDelayExpression

__all__ = ["MAX_BACKOFF_SECONDS", "default_backoff_seconds", "next_retry_delay_seconds",
           "retry_after_seconds"]

MAX_BACKOFF_SECONDS = 86400
# The destination's hint headers, checked in this order (QStash's documented precedence).
RETRY_AFTER_HEADERS = ("retry-after", "x-ratelimit-reset", "x-ratelimit-reset-requests",
                       "x-ratelimit-reset-tokens")
# e^(2.5 n) reaches a day at n ~ 4.55; above this, answer without calling exp() at all so a
# huge retry count can never overflow (2.5 * 10**400 alone raises OverflowError).
_SATURATING_RETRY = math.log(MAX_BACKOFF_SECONDS) / 2.5
# Longest integer we convert; more digits is certainly over a day (and would trip int()'s
# 4300-digit limit long before that).
_MAX_DIGITS = 12


def default_backoff_seconds(retry_number: int) -> float:
    """QStash's default ``min(86400, e^(2.5 n))`` with n = 1 for the first retry."""
    # Anything below 1 is treated as the first retry: a counting bug must never turn into a
    # zero-delay retry loop against the destination.
    if retry_number < 1:
        retry_number = 1
    if retry_number > _SATURATING_RETRY:
        return float(MAX_BACKOFF_SECONDS)
    return math.exp(2.5 * retry_number)


def _aware(moment: datetime) -> datetime:
    # HTTP dates are GMT; a naive datetime on either side is taken to be UTC so the two can be
    # subtracted instead of raising TypeError.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=timezone.utc)


def _parse_hint(value: str, now: datetime) -> float | None:
    """One header value -> seconds to wait, or None if it is not a usable hint."""
    value = value.strip()
    if not value:
        return None
    if value.isascii() and value.isdigit():  # isascii(): "²".isdigit() is True, int("²") fails
        return float(value) if len(value.lstrip("0")) <= _MAX_DIGITS else None
    try:
        # Go durations have a strict grammar (a unit is mandatory), so try them before the
        # lenient date parser.
        return parse_go_duration(value)
    except DurationError:
        pass
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if moment is None:  # older Pythons return None rather than raising
        return None
    try:
        # A date in the past means "now": retrying at once is what the destination asked for.
        return max(0.0, (_aware(moment) - _aware(now)).total_seconds())
    except OverflowError:
        return None


def _lowercase(headers: Mapping[str, str]) -> dict[str, str]:
    # Works for plain dicts of any case and for case-insensitive mappings such as httpx.Headers
    # (whose items() already yields lower-case names). The first spelling of a name wins.
    lowered: dict[str, str] = {}
    for name, value in headers.items():
        if isinstance(name, bytes):
            name = name.decode("latin-1")
        if isinstance(value, bytes):
            value = value.decode("latin-1")
        lowered.setdefault(str(name).lower(), str(value))
    return lowered


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    """Seconds the destination asked us to wait, or None when it gave no usable hint.

    Values are integer seconds, an RFC 1123 date or a Go duration; values that are negative,
    over a day or unparsable are skipped in favour of the next header (as QStash does, which
    also makes a unix-timestamp ``X-RateLimit-Reset`` fall through harmlessly).
    """
    if not headers:
        return None
    lowered = _lowercase(headers)
    for name in RETRY_AFTER_HEADERS:
        if name not in lowered:
            continue
        seconds = _parse_hint(lowered[name], now)
        if seconds is not None and 0 <= seconds <= MAX_BACKOFF_SECONDS:
            return seconds
    return None


def next_retry_delay_seconds(retried_so_far: int, expression: RetryDelayExpression | None,
                             response_headers: Mapping[str, str] | None,
                             now: datetime) -> float:
    """Delay before the next attempt, given how many retries already happened (0 at first)."""
    # The destination knows its own rate limits best, so its hint beats any configuration.
    steered = retry_after_seconds(response_headers or {}, now)
    if steered is not None:
        return steered
    if expression is not None:
        try:
            # `retried` counts retries done before this one; the expression yields milliseconds.
            return expression.evaluate(retried_so_far) / 1000
        except RetryDelayError:
            pass  # e.g. division by zero for this value of `retried`: use the default instead
    return default_backoff_seconds(retried_so_far + 1)
