"""Duration strings: QStash's ``1d10h30m`` (whole seconds) and Go's ``6m5.5s`` (float seconds)."""

from __future__ import annotations

import re

__all__ = [
    "DurationError",
    "MAX_SECONDS",
    "format_duration_seconds",
    "parse_duration",
    "parse_go_duration",
]

# QStash's SDK type is `${bigint}${"s" | "m" | "h" | "d"}`; parts may be chained (`1d10h30m`).
QSTASH_UNITS: dict[str, int] = {"s": 1, "m": 60, "h": 3600, "d": 86400}
# Go's time.ParseDuration units. Go accepts both the micro sign (U+00B5) and Greek mu (U+03BC).
GO_UNITS: dict[str, float] = {
    "ns": 1e-9, "us": 1e-6, "\u00b5s": 1e-6, "\u03bcs": 1e-6, "ms": 1e-3,
    "s": 1.0, "m": 60.0, "h": 3600.0,
}
# Plans cap delays at a year; anything past a century is a typo or an attack, never a plan.
MAX_SECONDS = 100 * 365 * 86400
# Longest digit run we convert: 15 digits already exceeds MAX_SECONDS by orders of magnitude,
# and bounding it keeps int() away from Python's 4300-digit conversion limit (a ValueError).
_MAX_DIGITS = 15
_QUOTE_LIMIT = 100

# [0-9] rather than \d: \d also matches non-ASCII digits such as "٣" or "²".
# The lookahead makes "10ms" fail as a whole (and be reported as unit 'ms'), not as 10m + "s".
_QSTASH_PART = re.compile(r"([0-9]+)([smhd])(?![A-Za-z])")
_DIGITS = re.compile(r"[0-9]+")
_FRACTION = re.compile(r"[0-9]*\.[0-9]")
# Go: a number is digits with an optional fraction ("1", "1.", ".5", "1.5" but not "."),
# followed by a mandatory unit. The longest units come first so "ms" never reads as "m" + "s".
_GO_PART = re.compile(r"([0-9]+(?:\.[0-9]*)?|\.[0-9]+)(ns|us|\u00b5s|\u03bcs|ms|s|m|h)")


class DurationError(ValueError):
    """A duration that could not be read; the message quotes the input and says what is wrong."""


def _quote(text: str) -> str:
    # repr() escapes control characters so the message is safe to log and echo back in a 400.
    if len(text) > _QUOTE_LIMIT:
        return repr(text[:_QUOTE_LIMIT]) + "..."
    return repr(text)


def _too_large(raw: str) -> DurationError:
    return DurationError(f"duration {_quote(raw)} is too large (the maximum is 100 years)")


def _diagnose(raw: str, position: int) -> DurationError:
    """Explain why the QStash duration ``raw`` stops parsing at ``position``."""
    rest = raw[position:]
    if rest[0].isspace():
        return DurationError(
            f"invalid duration {_quote(raw)}: spaces are not allowed inside a duration")
    if _FRACTION.match(rest):
        return DurationError(
            f"invalid duration {_quote(raw)}: fractional values are not allowed, "
            f"use whole numbers of s, m, h or d (e.g. 90s instead of 1.5m)")
    digits = _DIGITS.match(rest)
    if digits:
        after = rest[digits.end():]
        if not after:
            return DurationError(
                f"invalid duration {_quote(raw)}: missing unit after {digits.group()!r} "
                f"(units are s, m, h, d)")
        if after[0].isspace():
            return _diagnose(raw, len(raw) - len(after))
        shown = re.match(r"[^\s0-9]+", after).group()
        return DurationError(
            f"invalid duration {_quote(raw)}: unknown unit {shown[:10]!r} (units are s, m, h, d)")
    return DurationError(
        f"invalid duration {_quote(raw)}: use <number><unit> parts with units s, m, h, d "
        f"(e.g. 50s or 1d10h30m)")


def parse_duration(text: str) -> int:
    """``50s``, ``1d10h30m``, ``1h30m3s`` or a bare number of seconds -> whole seconds."""
    if not isinstance(text, str):
        raise DurationError(f"duration must be a string, got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise DurationError("empty duration: expected e.g. 50s or 1d10h30m")
    if raw[0] == "-":
        raise DurationError(f"invalid duration {_quote(raw)}: negative durations are not allowed")
    # A bare integer means seconds: the SDKs send `Ns`, but hand-written requests often omit it.
    if _DIGITS.fullmatch(raw):
        if len(raw.lstrip("0")) > _MAX_DIGITS:
            raise _too_large(raw)
        total = int(raw.lstrip("0") or "0")
    else:
        # Repeated or out-of-order units ("30m1h") are summed, as Go does, rather than rejected.
        position, total = 0, 0
        while position < len(raw):
            match = _QSTASH_PART.match(raw, position)
            if match is None:
                raise _diagnose(raw, position)
            if len(match.group(1).lstrip("0")) > _MAX_DIGITS:
                raise _too_large(raw)
            total += int(match.group(1).lstrip("0") or "0") * QSTASH_UNITS[match.group(2)]
            position = match.end()
    if total > MAX_SECONDS:
        raise _too_large(raw)
    return total


def parse_go_duration(text: str) -> float:
    """Go's ``time.ParseDuration`` grammar (``6m5s``, ``1.5h``, ``-300ms``, ``0``) -> seconds."""
    if not isinstance(text, str):
        raise DurationError(f"duration must be a string, got {type(text).__name__}")
    raw = text.strip()
    if not raw:
        raise DurationError("empty duration: expected e.g. 6m5s or 300ms")
    sign, body = 1.0, raw
    if body[0] in "+-":
        sign, body = (-1.0 if body[0] == "-" else 1.0), body[1:]
    # Go special-cases a lone zero: it is the only number allowed without a unit.
    if body == "0":
        return 0.0
    if not body:
        raise DurationError(f"invalid Go duration {_quote(raw)}: missing number")
    position, total = 0, 0.0
    while position < len(body):
        match = _GO_PART.match(body, position)
        if match is None:
            raise DurationError(
                f"invalid Go duration {_quote(raw)}: expected <number><unit> parts with units "
                f"ns, us, µs, ms, s, m, h (e.g. 6m5s or 1.5h)")
        # float() of a long digit run yields inf rather than raising; the cap below catches it.
        total += float(match.group(1)) * GO_UNITS[match.group(2)]
        position = match.end()
    if total > MAX_SECONDS:
        raise _too_large(raw)
    return sign * total


def format_duration_seconds(seconds: int) -> str:
    """5403 -> ``1h30m3s``; 0 -> ``0s``; the inverse of :func:`parse_duration` for display."""
    seconds = int(seconds)
    if seconds == 0:
        return "0s"
    # Negative values cannot be parsed back, but a display helper should not hide them.
    prefix = "-" if seconds < 0 else ""
    remaining = abs(seconds)
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, remaining = divmod(remaining, size)
        if count:
            parts.append(f"{count}{unit}")
    return prefix + "".join(parts)
