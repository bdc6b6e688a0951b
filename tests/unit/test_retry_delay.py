"""The Upstash-Retry-Delay evaluator: grammar, clamping and hostile input."""

from __future__ import annotations

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from django_qstash.core.retry_delay import (
    MAX_DELAY_MS,
    RetryDelayError,
    RetryDelayExpression,
    compile_retry_delay,
    validate_retry_delay,
)


def evaluate(text: str, retried: int = 0) -> int:
    return compile_retry_delay(text).evaluate(retried)


@pytest.mark.parametrize(("text", "retried", "expected"), [
    # The examples from the QStash docs.
    ("1000", 0, 1000),
    ("1000", 7, 1000),
    ("1000 * (1 + retried)", 0, 1000),
    ("1000 * (1 + retried)", 2, 3000),
    ("pow(2, retried) * 1000", 0, 1000),
    ("pow(2, retried) * 1000", 3, 8000),
    ("max(1000, pow(2, retried) * 100)", 0, 1000),
    ("max(1000, pow(2, retried) * 100)", 5, 3200),
    # Arithmetic and precedence.
    ("2 + 3 * 4", 0, 14),
    ("(2 + 3) * 4", 0, 20),
    ("8 - 2 - 1", 0, 5),
    ("100 / 10 / 2", 0, 5),
    ("7 / 2", 0, 3),  # the result is truncated to whole milliseconds
    ("--1000", 0, 1000),
    ("-(-1000)", 0, 1000),
    ("+retried * 2", 4, 8),
    ("1.5 * 1000", 0, 1500),
    (".5 * 1000", 0, 500),
    ("1.5e3", 0, 1500),
    ("2E+3", 0, 2000),
    ("retried", 12, 12),
    (" \t1000\n", 0, 1000),
    # Functions.
    ("exp(1) * 1000", 0, 2718),
    ("sqrt(16)", 0, 4),
    ("abs(-3)", 0, 3),
    ("floor(1.9) * 1000", 0, 1000),
    ("ceil(1.1) * 1000", 0, 2000),
    ("round(2.5)", 0, 3),  # half away from zero, like Go, not banker's rounding
    ("round(2.4)", 0, 2),
    ("round(0.49999999999999994) + 1", 0, 1),
    ("round(-2.5) + 10", 0, 7),
    ("min(5, 3, 9)", 0, 3),
    ("max(1, 2, 3, 4)", 0, 4),
    ("pow (2, 3)", 0, 8),
    ("min(max(retried, 1), 10) * 1000", 20, 10000),
])
def test_valid_expressions(text, retried, expected):
    assert evaluate(text, retried) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("-1000", 0),
    ("0", 0),
    ("0.4", 0),
    ("-exp(1e9)", 0),
    ("pow(-10, 1001)", 0),  # overflows towards -inf, so it clamps to 0
    ("pow(10, 1000)", MAX_DELAY_MS),
    ("exp(1e9)", MAX_DELAY_MS),
    ("exp(100000)", MAX_DELAY_MS),
    ("1e999", MAX_DELAY_MS),
    ("9" * 400, MAX_DELAY_MS),
    ("pow(10, 1000) * 0", MAX_DELAY_MS),  # NaN clamps to the maximum
    ("exp(1000) - exp(1000)", MAX_DELAY_MS),
    ("floor(pow(10, 400))", MAX_DELAY_MS),
    ("round(1e300) * 1e300", MAX_DELAY_MS),
    (str(MAX_DELAY_MS + 1), MAX_DELAY_MS),
    (str(MAX_DELAY_MS), MAX_DELAY_MS),
])
def test_results_are_clamped(text, expected):
    assert evaluate(text) == expected


@pytest.mark.parametrize(("text", "fragment"), [
    ("", "empty"),
    ("   ", "empty"),
    ("foo", "unknown name 'foo' at position 0"),
    ("1 + foo", "unknown name 'foo' at position 4"),
    ("POW(2, 3)", "case-sensitive"),
    ("Retried", "case-sensitive"),
    ("e", "unknown name 'e'"),
    ("pi * 2", "unknown name 'pi'"),
    ("__import__('os')", "unexpected character"),
    ("__import__", "unknown name '__import__'"),
    ("retried.__class__", "unexpected character '.'"),
    ("import os", "unknown name 'import'"),
    ("lambda", "unknown name 'lambda'"),
    ("lambda: 1", "unexpected character ':'"),
    ("2 ^ 3", "pow(x, y)"),
    ("2 ** 3", "unexpected '*'"),
    ("1 % 2", "unexpected character '%'"),
    ("(1", "expected ')'"),
    ("(1 2", "expected ')'"),
    ("1)", "unexpected ')'"),
    ("1 2", "unexpected '2'"),
    ("1 +", "unexpected end"),
    ("retried +", "unexpected end"),
    ("*1", "unexpected '*'"),
    ("()", "unexpected ')'"),
    ("pow", "expected '('"),
    ("pow(2)", "pow() takes exactly 2 arguments, got 1"),
    ("pow(1, 2, 3)", "pow() takes exactly 2 arguments, got 3"),
    ("sqrt(1, 2)", "sqrt() takes exactly 1 argument, got 2"),
    ("min(1)", "min() takes at least 2 arguments, got 1"),
    ("max(1)", "max() takes at least 2 arguments"),
    ("pow(2,)", "unexpected ')'"),
    ("min(, 1)", "unexpected ','"),
    ("retried(1)", "unexpected '('"),
    ("2e", "unexpected 'e'"),
    ("1,2", "unexpected ','"),
    ("1\u00a0+ 1", "unexpected character"),  # non-ASCII space
    ("\u0663", "unexpected character"),  # non-ASCII digit
    ("1000;", "unexpected character ';'"),
    ("1000 # comment", "unexpected character '#'"),
])
def test_syntax_errors(text, fragment):
    with pytest.raises(RetryDelayError) as info:
        compile_retry_delay(text)
    assert fragment in str(info.value)


@pytest.mark.parametrize(("text", "fragment"), [
    ("1000 * (1 + retried", "expected ')'"),
    ("(" * 40 + "1" + ")" * 40, "nested deeper than 32"),
    ("pow(" * 40 + "1" + ", 1)" * 40, "nested deeper than 32"),
    ("1" * 10_000, "longer than 1000"),
    ("1+" * 300 + "1", "more than 500 tokens"),
    ("-" * 600 + "1", "more than 500 tokens"),
])
def test_limits(text, fragment):
    with pytest.raises(RetryDelayError) as info:
        compile_retry_delay(text)
    assert fragment in str(info.value)


def test_nesting_up_to_the_limit_is_fine():
    assert evaluate("(" * 32 + "1000" + ")" * 32) == 1000
    assert evaluate("abs(" * 32 + "1000" + ")" * 32) == 1000


def test_long_flat_chain_evaluates_without_recursion():
    text = "+".join(["1"] * 250)  # 499 tokens, just under the limit
    assert evaluate(text) == 250


@pytest.mark.parametrize(("text", "retried", "fragment"), [
    ("1/0", 0, "division by zero"),
    ("1000 / retried", 0, "division by zero"),
    ("1 / (retried - 2)", 2, "division by zero"),
    ("sqrt(-1)", 0, "negative"),
    ("sqrt(retried - 5)", 1, "negative"),
    ("pow(0, -1)", 0, "undefined"),
    ("pow(-8, 0.5)", 0, "undefined"),
])
def test_evaluation_errors(text, retried, fragment):
    expression = compile_retry_delay(text)  # it parses fine: the error depends on `retried`
    with pytest.raises(RetryDelayError) as info:
        expression.evaluate(retried)
    assert fragment in str(info.value)


def test_division_by_zero_only_for_some_retries():
    expression = compile_retry_delay("1000 / retried")
    assert expression.evaluate(2) == 500
    with pytest.raises(RetryDelayError):
        expression.evaluate(0)


def test_huge_retried_value_does_not_overflow():
    assert compile_retry_delay("pow(2, retried)").evaluate(10**400) == MAX_DELAY_MS
    assert compile_retry_delay("1000 - retried").evaluate(10**400) == 0


def test_adversarial_input_is_fast():
    started = time.perf_counter()
    for text in ("pow(10, 1000)", "exp(1e9)", "pow(pow(10, 300), pow(10, 300))",
                 "*".join(["pow(9, 9)"] * 60)):
        assert evaluate(text) == MAX_DELAY_MS
    assert time.perf_counter() - started < 1


@pytest.mark.parametrize("value", [None, 1000, b"1000"])
def test_non_strings_are_rejected(value):
    with pytest.raises(RetryDelayError):
        compile_retry_delay(value)


def test_validate_returns_stripped_text():
    assert validate_retry_delay("  pow(2, retried) * 1000 ") == "pow(2, retried) * 1000"
    with pytest.raises(RetryDelayError):
        validate_retry_delay("retried +")


def test_compiled_expression_is_reusable_and_keeps_text():
    expression = compile_retry_delay(" 1000 * (1 + retried) ")
    assert isinstance(expression, RetryDelayExpression)
    assert expression.text == "1000 * (1 + retried)"
    assert [expression.evaluate(r) for r in range(4)] == [1000, 2000, 3000, 4000]
    assert "1000 * (1 + retried)" in repr(expression)


def test_error_is_a_value_error():
    assert issubclass(RetryDelayError, ValueError)


# --- properties --------------------------------------------------------------------------

_ATOMS = st.one_of(
    st.integers(-10**6, 10**6).map(str),
    st.floats(allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["retried", "1e999", "0", ".5", "1e-300"]),
)


def _combine(children):
    return st.one_of(
        st.tuples(children, st.sampled_from("+-*/"), children)
        .map(lambda t: f"({t[0]}{t[1]}{t[2]})"),
        children.map(lambda c: f"-{c}"),
        st.tuples(st.sampled_from(["exp", "sqrt", "abs", "floor", "ceil", "round"]), children)
        .map(lambda t: f"{t[0]}({t[1]})"),
        st.tuples(st.sampled_from(["pow", "min", "max"]), children, children)
        .map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
    )


EXPRESSIONS = st.recursive(_ATOMS, _combine, max_leaves=25)
RETRIED = st.one_of(st.integers(0, 100), st.integers(0, 10**30), st.integers(-5, 0))


@settings(max_examples=300)
@given(EXPRESSIONS, RETRIED)
def test_generated_expressions_evaluate_within_the_clamp(text, retried):
    try:
        expression = compile_retry_delay(text)
    except RetryDelayError:
        return  # e.g. the generated text is longer than the limit
    try:
        result = expression.evaluate(retried)
    except RetryDelayError:
        return  # division by zero, sqrt of a negative, ...
    assert type(result) is int
    assert 0 <= result <= MAX_DELAY_MS


_ALPHABET = st.sampled_from(list("0123456789.eE+-*/(), _^%'\"") + [
    "retried", "pow", "exp", "sqrt", "abs", "floor", "ceil", "round", "min", "max", "__", "x"])


@settings(max_examples=300)
@given(st.one_of(st.text(max_size=300), st.lists(_ALPHABET, max_size=60).map("".join)),
       RETRIED)
def test_arbitrary_text_only_raises_retry_delay_error(text, retried):
    try:
        expression = compile_retry_delay(text)
        result = expression.evaluate(retried)
    except RetryDelayError:
        return
    assert type(result) is int and 0 <= result <= MAX_DELAY_MS
    assert not math.isnan(result)
