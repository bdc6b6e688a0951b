"""When to retry: Retry-After style headers, else the message's expression, else QStash's default."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from email.utils import parsedate_to_datetime

from .durations import DurationError, parse_go_duration
from .retry_delay import RetryDelayError, RetryDelayExpression

MAX_BACKOFF_SECONDS = 86400
# Checked in this order; values over a day are ignored, as QStash does.
RETRY_AFTER_HEADERS = ("retry-after", "x-ratelimit-reset", "x-ratelimit-reset-requests",
                       "x-ratelimit-reset-tokens")


def default_backoff_seconds(retry_number: int) -> float:
    """``min(86400, e^(2.5 n))`` with n = 1 for the first retry."""
    exponent = 2.5 * max(retry_number, 0)
    if exponent >= math.log(MAX_BACKOFF_SECONDS):
        return float(MAX_BACKOFF_SECONDS)
    return math.exp(exponent)


def _parse_retry_after(value: str, now: datetime) -> float | None:
    value = value.strip()
    if not value:
        return None
    if value.isdigit():
        return float(value) if len(value) < 10 else None
    try:
        return max(0.0, (parsedate_to_datetime(value) - now).total_seconds())
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    try:
        return parse_go_duration(value)
    except DurationError:
        return None


def retry_after_seconds(headers: Mapping[str, str], now: datetime) -> float | None:
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name in RETRY_AFTER_HEADERS:
        if name not in lowered:
            continue
        seconds = _parse_retry_after(lowered[name], now)
        if seconds is not None and 0 <= seconds <= MAX_BACKOFF_SECONDS:
            return seconds
    return None


def next_retry_delay_seconds(retried_so_far: int, expression: RetryDelayExpression | None,
                             response_headers: Mapping[str, str], now: datetime) -> float:
    steered = retry_after_seconds(response_headers, now)
    if steered is not None:
        return steered
    if expression is not None:
        try:
            return expression.evaluate(retried_so_far) / 1000
        except RetryDelayError:
            pass  # e.g. division by zero for this value of retried: use the default
    return default_backoff_seconds(retried_so_far + 1)
