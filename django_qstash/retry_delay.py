"""A safe evaluator for ``Upstash-Retry-Delay`` expressions (never eval): a tiny parser."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from dataclasses import dataclass

MAX_TEXT = 1000
MAX_TOKENS = 500
MAX_DEPTH = 32
MAX_MS = 86_400_000 * 365  # results are clamped to [0, one year]
_TOKEN = re.compile(r"\s*(?:(\d+(?:\.\d*)?(?:[eE][+-]?\d+)?|\.\d+(?:[eE][+-]?\d+)?)|([A-Za-z_]\w*)|(.))")


class RetryDelayError(ValueError):
    """The expression cannot be parsed or evaluated; the message says where and why."""


def _pow(x: float, y: float) -> float:
    try:
        return math.pow(x, y)
    except OverflowError:
        return math.inf
    except ValueError:  # e.g. a negative base with a fractional exponent
        return math.nan


def _exp(x: float) -> float:
    try:
        return math.exp(x)
    except OverflowError:
        return math.inf


def _finite(func: Callable[[float], float]) -> Callable[[float], float]:
    # floor/ceil/round raise on inf/nan; those values are clamped later anyway.
    return lambda x: func(x) if math.isfinite(x) else x


FUNCTIONS: dict[str, tuple[Callable[..., float], int, int]] = {
    "pow": (_pow, 2, 2), "exp": (_exp, 1, 1),
    "sqrt": (lambda x: math.sqrt(x) if x >= 0 else math.nan, 1, 1),
    "abs": (abs, 1, 1), "floor": (_finite(math.floor), 1, 1), "ceil": (_finite(math.ceil), 1, 1),
    "round": (_finite(round), 1, 1), "min": (min, 2, 64), "max": (max, 2, 64),
}

Node = Callable[[float], float]  # evaluates with the value of ``retried``


def _tokenize(text: str) -> list[tuple[str, str, int]]:
    tokens, position = [], 0
    text = text.rstrip()
    while position < len(text):
        match = _TOKEN.match(text, position)
        number, name, symbol = match.groups()
        start = match.start(1) if number else match.start(2) if name else match.start(3)
        if number:
            tokens.append(("num", number, start))
        elif name:
            tokens.append(("name", name, start))
        elif symbol in "+-*/(),":
            tokens.append(("op", symbol, start))
        else:
            raise RetryDelayError(f"unexpected character {symbol!r} at position {start}")
        position = match.end()
        if len(tokens) > MAX_TOKENS:
            raise RetryDelayError(f"expression has more than {MAX_TOKENS} tokens")
    return tokens


class _Parser:
    def __init__(self, tokens: list[tuple[str, str, int]]) -> None:
        self.tokens, self.index, self.depth = tokens, 0, 0

    def peek(self) -> tuple[str, str, int] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str, int]:
        token = self.peek()
        if token is None:
            raise RetryDelayError("unexpected end of expression" + (f", expected {value!r}" if value else ""))
        if value is not None and token[1] != value:
            raise RetryDelayError(f"expected {value!r} at position {token[2]}, found {token[1]!r}")
        self.index += 1
        return token

    def expression(self) -> Node:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise RetryDelayError(f"expression is nested deeper than {MAX_DEPTH} levels")
        node = self.term()
        while (token := self.peek()) and token[1] in "+-" and token[0] == "op":
            self.take()
            node = _binary(token[1], node, self.term())
        self.depth -= 1
        return node

    def term(self) -> Node:
        node = self.unary()
        while (token := self.peek()) and token[1] in "*/" and token[0] == "op":
            self.take()
            node = _binary(token[1], node, self.unary())
        return node

    def unary(self) -> Node:
        token = self.peek()
        if token and token[0] == "op" and token[1] in "+-":
            self.take()
            self.depth += 1
            if self.depth > MAX_DEPTH:
                raise RetryDelayError(f"expression is nested deeper than {MAX_DEPTH} levels")
            operand = self.unary()
            self.depth -= 1
            return (lambda r: -operand(r)) if token[1] == "-" else operand
        return self.primary()

    def primary(self) -> Node:
        kind, value, position = self.take()
        if kind == "num":
            number = float(value)
            return lambda r: number
        if kind == "name":
            if value == "retried":
                return lambda r: r
            if value not in FUNCTIONS:
                raise RetryDelayError(f"unknown name {value!r} at position {position}")
            return self.call(value, position)
        if value == "(":
            node = self.expression()
            self.take(")")
            return node
        raise RetryDelayError(f"unexpected {value!r} at position {position}")

    def call(self, name: str, position: int) -> Node:
        func, low, high = FUNCTIONS[name]
        self.take("(")
        args = [self.expression()]
        while self.peek() and self.peek()[1] == ",":
            self.take()
            args.append(self.expression())
        self.take(")")
        if not low <= len(args) <= high:
            raise RetryDelayError(f"{name}() takes {low if low == high else f'{low} or more'} "
                                  f"arguments, got {len(args)} (position {position})")
        return lambda r: func(*(arg(r) for arg in args))


def _binary(op: str, left: Node, right: Node) -> Node:
    if op == "+":
        return lambda r: left(r) + right(r)
    if op == "-":
        return lambda r: left(r) - right(r)
    if op == "*":
        return lambda r: _multiply(left(r), right(r))
    return lambda r: _divide(left(r), right(r))


def _multiply(a: float, b: float) -> float:
    try:
        return a * b
    except OverflowError:
        return math.inf


def _divide(a: float, b: float) -> float:
    if b == 0:
        raise RetryDelayError("division by zero")
    return a / b


@dataclass(frozen=True)
class RetryDelayExpression:
    text: str
    node: Node

    def evaluate(self, retried: int) -> int:
        """Milliseconds to wait; overflow counts as the maximum, negatives and NaN as 0."""
        value = self.node(float(retried))
        if math.isnan(value) or value <= 0:
            return 0
        if math.isinf(value) or value >= MAX_MS:
            return MAX_MS
        return int(value)


def compile_retry_delay(text: str) -> RetryDelayExpression:
    raw = (text or "").strip()
    if not raw:
        raise RetryDelayError("empty expression")
    if len(raw) > MAX_TEXT:
        raise RetryDelayError(f"expression is longer than {MAX_TEXT} characters")
    parser = _Parser(_tokenize(raw))
    node = parser.expression()
    if parser.peek() is not None:
        _, value, position = parser.peek()
        raise RetryDelayError(f"unexpected {value!r} at position {position}")
    return RetryDelayExpression(raw, node)


def validate_retry_delay(text: str) -> str:
    return compile_retry_delay(text).text
