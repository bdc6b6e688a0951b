"""QStash and Go duration parsing: the grammar, its limits and its error messages."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_qstash.core.durations import (
    MAX_SECONDS,
    DurationError,
    format_duration_seconds,
    parse_duration,
    parse_go_duration,
)


@pytest.mark.parametrize(("text", "seconds"), [
    ("50s", 50),
    ("1m", 60),
    ("2h", 7200),
    ("1d", 86400),
    ("1d10h30m", 124200),  # spec example
    ("1h30m3s", 5403),  # spec example (flow-control period)
    ("1d1h30m", 91800),
    ("10", 10),  # bare integer = seconds
    ("0", 0),
    ("0s", 0),
    ("007s", 7),
    ("  5m\t", 300),
    ("30m1h", 5400),  # out of order is summed, like Go
    ("36500d", MAX_SECONDS),  # exactly the 100-year cap
])
def test_parse_duration_valid(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty"),
    ("   ", "empty"),
    ("-1s", "negative"),
    ("-5", "negative"),
    ("1.5m", "fractional"),
    ("1h1.5m", "fractional"),
    ("1x", "unknown unit 'x'"),
    ("1H", "unknown unit 'H'"),
    ("10ms", "unknown unit 'ms'"),
    ("1hour", "unknown unit 'hour'"),
    ("1h30min", "unknown unit 'min'"),
    ("1h30", "missing unit"),
    ("5 minutes", "spaces"),
    ("1h 30m", "spaces"),
    ("abc", "invalid duration"),
    ("s", "invalid duration"),
    ("soon", "invalid duration"),
    ("1e5s", "unknown unit"),
    ("\u0663s", "invalid duration"),  # Arabic-Indic digit: not an ASCII number
    ("36501d", "too large"),
    ("99999999999999999999", "too large"),
    ("9" * 5000 + "s", "too large"),  # past int()'s 4300-digit limit: still a DurationError
    ("9" * 5000, "too large"),
])
def test_parse_duration_invalid(text, fragment):
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    assert fragment in str(info.value)


def test_duration_error_quotes_and_truncates_input():
    text = "x" * 500
    with pytest.raises(DurationError) as info:
        parse_duration(text)
    message = str(info.value)
    assert repr("x" * 100) in message and "x" * 101 not in message


@pytest.mark.parametrize("value", [None, 5, b"5s"])
def test_parse_duration_rejects_non_strings(value):
    with pytest.raises(DurationError):
        parse_duration(value)


def test_duration_error_is_a_value_error():
    assert issubclass(DurationError, ValueError)


@pytest.mark.parametrize(("text", "seconds"), [
    ("6m5s", 365.0),
    ("1.5h", 5400.0),
    ("300ms", 0.3),
    ("2h45m", 9900.0),
    ("1h15m30.918273645s", 4530.918273645),
    ("1ns", 1e-9),
    ("1us", 1e-6),
    ("1\u00b5s", 1e-6),  # micro sign
    ("1\u03bcs", 1e-6),  # Greek mu
    ("0", 0.0),
    ("-0", 0.0),
    ("+0", 0.0),
    ("0s", 0.0),
    ("+5s", 5.0),
    ("-1.5h", -5400.0),
    ("1.s", 1.0),
    (".5s", 0.5),
    (" 10s ", 10.0),
])
def test_parse_go_duration_valid(text, seconds):
    assert parse_go_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", [
    "", "  ", "+", "-", "5", "1.5", ".s", ".", "s", "1x", "1H", "1d", "1e5s", "1h-5m", "1s ms",
    "--1s", "1 s", "1_000s", "9" * 400 + "h", "876600h1s",
])
def test_parse_go_duration_invalid(text):
    with pytest.raises(DurationError):
        parse_go_duration(text)


@pytest.mark.parametrize(("seconds", "text"), [
    (0, "0s"),
    (1, "1s"),
    (59, "59s"),
    (60, "1m"),
    (61, "1m1s"),
    (3600, "1h"),
    (5403, "1h30m3s"),
    (86400, "1d"),
    (124200, "1d10h30m"),
    (90061, "1d1h1m1s"),
    (-5403, "-1h30m3s"),
])
def test_format_duration_seconds(seconds, text):
    assert format_duration_seconds(seconds) == text


@given(st.integers(min_value=0, max_value=MAX_SECONDS))
def test_format_then_parse_round_trips(seconds):
    assert parse_duration(format_duration_seconds(seconds)) == seconds


@given(st.text(max_size=200))
def test_arbitrary_text_only_ever_raises_duration_error(text):
    for parse in (parse_duration, parse_go_duration):
        try:
            result = parse(text)
        except DurationError:
            continue
        assert abs(result) <= MAX_SECONDS


@given(st.text(alphabet="0123456789smhd.-+ ", max_size=40))
def test_grammar_like_text_only_ever_raises_duration_error(text):
    try:
        result = parse_duration(text)
    except DurationError:
        return
    assert isinstance(result, int) and 0 <= result <= MAX_SECONDS


@given(st.lists(st.tuples(st.integers(0, 10_000), st.sampled_from("smhd")), min_size=1,
                max_size=5))
def test_generated_durations_sum_their_parts(parts):
    text = "".join(f"{count}{unit}" for count, unit in parts)
    expected = sum(count * {"s": 1, "m": 60, "h": 3600, "d": 86400}[unit] for count, unit in parts)
    assert parse_duration(text) == expected
