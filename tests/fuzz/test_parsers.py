"""Hypothesis: header, duration, retry-delay and cron parsers raise only their own errors."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_qstash.core.cron import CronError, next_fire, parse
from django_qstash.core.durations import DurationError, parse_duration, parse_go_duration
from django_qstash.core.request_headers import PublishOptions, parse_publish_headers
from django_qstash.core.retry_delay import MAX_DELAY_MS as MAX_MS
from django_qstash.core.retry_delay import RetryDelayError, compile_retry_delay
from django_qstash.exceptions import ApiError
from tests.fuzz.strategies import CRONS, DURATION_TEXT, EXPRESSIONS, HEADER_PAIRS, VALUES

FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))


@FUZZ
@given(pairs=HEADER_PAIRS, query=st.lists(st.tuples(st.sampled_from(
    ["upstash-delay", "upstash-retries", "upstash-method", "upstash-timeout"]), VALUES),
    max_size=3))
def test_header_parsing_raises_only_api_errors(pairs, query):
    try:
        options = parse_publish_headers(pairs, query)
    except ApiError as exc:
        assert 400 <= exc.status < 500 and exc.message
        return
    assert isinstance(options, PublishOptions)
    PublishOptions.from_dict(options.to_dict())  # what schedules store must load again


@FUZZ
@given(text=DURATION_TEXT)
@example("²")
@example("9" * 5000)
@example("1" + "d" * 10)
def test_durations(text):
    try:
        seconds = parse_duration(text)
        assert isinstance(seconds, int) and seconds >= 0
    except DurationError as exc:
        assert str(exc)
    try:
        value = parse_go_duration(text)
        assert math.isfinite(value)
    except DurationError as exc:
        assert str(exc)


def _evaluate_everywhere(text: str) -> None:
    try:
        expression = compile_retry_delay(text)
    except RetryDelayError as exc:
        assert str(exc)
        return
    for retried in (0, 1, 2, 5, 20, 10**6):
        try:
            delay = expression.evaluate(retried)
        except RetryDelayError as exc:  # e.g. division by zero, reported to the sender at publish
            assert str(exc)
            continue
        assert isinstance(delay, int) and 0 <= delay <= MAX_MS


@FUZZ
@given(text=EXPRESSIONS | st.text(max_size=60))
@example("pow(10, 1000)")
@example("pow(pow(pow(10, 10), 10), 10) * exp(1e308)")
@example("(" * 10_000 + "1" + ")" * 10_000)
@example("-" * 5000 + "1")
@example("9" * 999)
@example("1e999 * 0")
@example("sqrt(-1) + pow(-8, 1/3) + floor(1e400) + round(0/1)")
@example("__import__('os').system('true')")
@example("retried.__class__")
@example("min(" + ",".join(["1"] * 200) + ")")
@example("1/0")
@example("1/(retried-retried)")
def test_retry_delay_expressions(text):
    # Bounded work for any input, counted in this thread's CPU time: wall time also counts
    # the moments the machine gave the CPU to other processes.
    started = time.thread_time()
    _evaluate_everywhere(text)
    assert time.thread_time() - started < 1.0


@pytest.mark.parametrize("text, fragment", [
    ("pow(10, 1000)", None), ("foo(1)", "unknown name 'foo'"), ("(" * 100 + "1" + ")" * 100,
                                                               "nested deeper"),
    ("1 +", "unexpected end"), ("1 ** 2", "unexpected '*'"), ("x" * 2000, "longer than"),
    ("retried; 1", "unexpected character ';'"),
])
def test_retry_delay_messages_say_what_is_wrong(text, fragment):
    if fragment is None:
        assert compile_retry_delay(text).evaluate(0) == MAX_MS  # overflow clamps to the maximum
    else:
        with pytest.raises(RetryDelayError, match=fragment.replace("(", r"\(")):
            compile_retry_delay(text)


@FUZZ
@given(cron=CRONS)
@example("0 0 30 2 *")
@example("CRON_TZ=../../etc/passwd * * * * *")
@example("* * * * * *")
@example("@daily")
@example("*/0 * * * *")
@example("CRON_TZ=Europe/Berlin 30 2 * * *")
def test_cron_parse_and_next_fire(cron):
    try:
        spec = parse(cron)
    except CronError as exc:
        assert str(exc)
        return
    after = datetime(2026, 3, 29, 0, 30, tzinfo=timezone.utc)
    fire = next_fire(spec, after)
    assert fire > after and fire.tzinfo is not None
