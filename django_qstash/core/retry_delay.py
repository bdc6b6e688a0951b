"""Safe ``Upstash-Retry-Delay`` evaluator: a hand-written tokenizer and parser, never eval()."""

from __future__ import annotations

import math
import operator
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import NamedTuple

__all__ = ["MAX_DELAY_MS", "RetryDelayError", "RetryDelayExpression", "compile_retry_delay",
           "validate_retry_delay"]

# Header values are user input: bound the work a single expression can ask of us.
MAX_TEXT = 1000
MAX_TOKENS = 500
MAX_DEPTH = 32
MAX_DELAY_MS = 86_400_000 * 365  # one year, the longest delay any QStash plan allows
# re.ASCII: \s and friends must not admit exotic Unicode; [0-9] because \d matches "٣".
# The exponent needs digits, so "2e" lexes as 2 followed by the (rejected) name "e".
_TOKEN = re.compile(
    r"\s*(?:(?P<num>(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>[-+*/(),])|(?P<bad>.))",
    re.ASCII | re.DOTALL,
)


class RetryDelayError(ValueError):
    """The expression cannot be parsed or evaluated; the message says where and why."""


class _Token(NamedTuple):
    kind: str  # "num", "name" or "op"
    text: str
    position: int  # 0-based offset in the stripped expression, for error messages


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        # Keep the sign: pow(-10, 1001) is hugely negative, so it clamps to 0, not to the max.
        negative = x < 0 and float(y).is_integer() and y % 2 == 1
        return -math.inf if negative else math.inf
    except ValueError:
        raise RetryDelayError(f"pow({x:g}, {y:g}) is undefined") from None


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _sqrt(x: float) -> float:
    if x < 0:
        raise RetryDelayError(f"sqrt of a negative number ({x:g})")
    return math.sqrt(x)


def _integral(func: Callable[[float], int]) -> Callable[[float], float]:
    # math.floor(inf) raises and floor(1e308) is a 309-digit int; staying in floats keeps every
    # later operation overflow-free (float arithmetic saturates to inf instead of raising).
    return lambda x: float(func(x)) if math.isfinite(x) else x


def _round_half_away(x: float) -> int:
    # Go's math.Round semantics (2.5 -> 3), not Python's banker's rounding (2.5 -> 2). Comparing
    # the remainder avoids floor(x + 0.5), which is wrong for 0.49999999999999994.
    whole = math.trunc(x)
    return whole + (1 if x > 0 else -1) if abs(x - whole) >= 0.5 else whole


def _extreme(pick: Callable[..., float]) -> Callable[..., float]:
    # Python's min()/max() answer depends on argument order when a NaN is involved; propagate it.
    return lambda *args: math.nan if any(math.isnan(a) for a in args) else pick(args)


# name -> (implementation, minimum arguments, maximum arguments or None for unbounded)
FUNCTIONS: dict[str, tuple[Callable[..., float], int, int | None]] = {
    "pow": (_pow, 2, 2), "exp": (_exp, 1, 1), "sqrt": (_sqrt, 1, 1), "abs": (math.fabs, 1, 1),
    "floor": (_integral(math.floor), 1, 1), "ceil": (_integral(math.ceil), 1, 1),
    "round": (_integral(_round_half_away), 1, 1),
    "min": (_extreme(min), 2, None), "max": (_extreme(max), 2, None),
}
VARIABLE = "retried"


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise RetryDelayError("division by zero")
    return a / b


# Float arithmetic saturates to +-inf or NaN instead of raising OverflowError.
_ARITHMETIC = {"+": operator.add, "-": operator.sub, "*": operator.mul, "/": _divide}


def _constant(value: float) -> Callable[[], float]:
    return lambda: value


def _tokenize(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    position = 0
    while (match := _TOKEN.match(text, position)) is not None:
        kind = match.lastgroup
        start, position = match.start(kind), match.end()
        if kind == "bad":
            char = match.group(kind)
            hint = " (use pow(x, y) for powers)" if char == "^" else ""
            raise RetryDelayError(f"unexpected character {char!r} at position {start}{hint}")
        tokens.append(_Token(kind, match.group(kind), start))
        if len(tokens) > MAX_TOKENS:
            raise RetryDelayError(f"expression has more than {MAX_TOKENS} tokens")
    return tokens


# The compiled form is a flat postfix program run on an explicit stack, so evaluating a long
# `1+1+1+...` chain never recurses (and can never hit Python's recursion limit). Each step pops
# `arity` values, applies the function and pushes the result; None pushes `retried`.
Instruction = tuple[Callable[..., float] | None, int]


class _Parser:
    """Recursive descent; recursion only happens per nesting level, which is capped."""

    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens, self.index, self.depth = tokens, 0, 0
        self.program: list[Instruction] = []

    def peek(self) -> _Token | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def peek_op(self, ops: str) -> str | None:
        token = self.peek()
        return token.text if token and token.kind == "op" and token.text in ops else None

    def expect(self, op: str, after: str) -> None:
        token = self.peek()
        if token is None:
            raise RetryDelayError(f"expected {op!r} after {after} but the expression ended")
        if token.kind != "op" or token.text != op:
            raise RetryDelayError(
                f"expected {op!r} after {after} at position {token.position}, got {token.text!r}")
        self.index += 1

    def nest(self, position: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RetryDelayError(
                f"expression is nested deeper than {MAX_DEPTH} levels (at position {position})")

    def expression(self, operators: str = "+-") -> None:
        # Two precedence levels: a sum of products of unary operands. Loops, not recursion,
        # handle long chains; left-to-right emission makes "8 - 2 - 1" mean (8 - 2) - 1.
        operand = (lambda: self.expression("*/")) if operators == "+-" else self.unary
        operand()
        while op := self.peek_op(operators):
            self.index += 1
            operand()
            self.program.append((_ARITHMETIC[op], 2))

    def unary(self) -> None:
        # Signs are collected in a loop: "- - - 1" costs no recursion at all.
        negate = False
        while op := self.peek_op("+-"):
            self.index += 1
            negate ^= op == "-"
        self.primary()
        if negate:
            self.program.append((operator.neg, 1))

    def primary(self) -> None:
        token = self.peek()
        if token is None:
            raise RetryDelayError("unexpected end of expression, expected a number, "
                                  f"{VARIABLE!r}, a function call or '('")
        self.index += 1
        if token.kind == "num":
            # float() never raises on our digit grammar; huge literals become inf and clamp later.
            self.program.append((_constant(float(token.text)), 0))
        elif token.kind == "name" and token.text == VARIABLE:
            self.program.append((None, 0))
        elif token.kind == "name" and token.text in FUNCTIONS:
            self.call(token)
        elif token.kind == "name":
            known = token.text.lower() in FUNCTIONS or token.text.lower() == VARIABLE
            hint = " (names are case-sensitive)" if known else ""
            raise RetryDelayError(
                f"unknown name {token.text!r} at position {token.position}{hint}")
        elif token.text == "(":
            self.nest(token.position)
            self.expression()
            self.expect(")", "the parenthesised expression")
            self.depth -= 1
        else:
            raise RetryDelayError(f"unexpected {token.text!r} at position {token.position}")

    def call(self, name: _Token) -> None:
        self.expect("(", f"function {name.text!r}")
        self.nest(name.position)
        argc = 1
        self.expression()
        while self.peek_op(","):
            self.index += 1
            argc += 1
            self.expression()
        self.expect(")", f"the arguments of {name.text}()")
        self.depth -= 1
        _, low, high = FUNCTIONS[name.text]
        if argc < low or (high is not None and argc > high):
            wanted = f"exactly {low}" if low == high else f"at least {low}"
            plural = "argument" if low == 1 else "arguments"
            raise RetryDelayError(f"{name.text}() takes {wanted} {plural}, got {argc} "
                                  f"(at position {name.position})")
        self.program.append((FUNCTIONS[name.text][0], argc))


@dataclass(frozen=True)
class RetryDelayExpression:
    """A parsed expression; ``evaluate`` is cheap and can be called once per retry."""

    text: str
    program: tuple[Instruction, ...] = field(repr=False)

    def evaluate(self, retried: int) -> int:
        """Milliseconds to wait before the retry after ``retried`` earlier retries.

        Clamping rule: +inf (any overflow) and NaN clamp to ``MAX_DELAY_MS`` - an expression
        that blew up should back off as far as possible rather than hammer the destination;
        zero, negatives and -inf clamp to 0. Domain errors (division by zero, sqrt of a
        negative, pow(0, -1)) raise RetryDelayError.
        """
        try:
            variable = float(retried)
        except OverflowError:
            variable = math.inf
        stack: list[float] = []
        for func, arity in self.program:
            if func is None:
                stack.append(variable)
                continue
            args = stack[len(stack) - arity:]  # not stack[-arity:], which is everything for 0
            del stack[len(stack) - arity:]
            stack.append(func(*args))
        value = stack[-1]
        if math.isnan(value) or value >= MAX_DELAY_MS:
            return MAX_DELAY_MS
        if value <= 0:
            return 0
        return int(value)


def compile_retry_delay(text: str) -> RetryDelayExpression:
    """Parse ``text`` once; raises RetryDelayError for anything outside the grammar or limits."""
    if not isinstance(text, str):
        raise RetryDelayError(f"expression must be a string, got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise RetryDelayError("empty expression")
    if len(raw) > MAX_TEXT:
        raise RetryDelayError(f"expression is longer than {MAX_TEXT} characters")
    parser = _Parser(_tokenize(raw))
    parser.expression()
    leftover = parser.peek()
    if leftover is not None:
        raise RetryDelayError(f"unexpected {leftover.text!r} at position {leftover.position}")
    return RetryDelayExpression(raw, tuple(parser.program))


def validate_retry_delay(text: str) -> str:
    """Return the stripped expression if it compiles, else raise RetryDelayError."""
    return compile_retry_delay(text).text
