"""Duration strings: QStash's ``1d10h30m`` (whole seconds) and Go's ``6m5.5s`` (float seconds)."""

from __future__ import annotations

import re

QSTASH_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
GO_UNITS = {"ns": 1e-9, "us": 1e-6, "µs": 1e-6, "μs": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0,
            "h": 3600.0}
MAX_SECONDS = 100 * 365 * 86400  # anything longer is a typo, not a plan
_QSTASH_PART = re.compile(r"(\d+)([smhd])")
_GO_PART = re.compile(r"(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)")


class DurationError(ValueError):
    """A duration that could not be read; the message quotes the input."""


def _quote(text: str) -> str:
    return repr(text if len(text) <= 100 else text[:100] + "…")


def parse_duration(text: str) -> int:
    """``50s``, ``1d10h30m``, ``1h30m3s`` or a bare number of seconds -> whole seconds."""
    raw = (text or "").strip()
    if not raw:
        raise DurationError("empty duration")
    if raw.isdigit():
        total = int(raw) if len(raw) <= 15 else MAX_SECONDS + 1
    else:
        position, total = 0, 0
        for match in _QSTASH_PART.finditer(raw):
            if match.start() != position:
                break
            if len(match.group(1)) > 15:
                raise DurationError(f"duration {_quote(raw)} is too large")
            total += int(match.group(1)) * QSTASH_UNITS[match.group(2)]
            position = match.end()
        if position != len(raw):
            raise DurationError(
                f"invalid duration {_quote(raw)}: use <number><unit> parts with units s, m, h, d "
                f"(e.g. 1d10h30m)")
    if total > MAX_SECONDS:
        raise DurationError(f"duration {_quote(raw)} is too large")
    return total


def parse_go_duration(text: str) -> float:
    """Go's time.ParseDuration grammar (``6m5s``, ``1.5h``, ``300ms``) -> seconds."""
    raw = (text or "").strip()
    if not raw:
        raise DurationError("empty duration")
    sign, body = 1.0, raw
    if body[0] in "+-":
        sign, body = (-1.0 if body[0] == "-" else 1.0), body[1:]
    if body == "0":
        return 0.0
    position, total = 0, 0.0
    for match in _GO_PART.finditer(body):
        if match.start() != position:
            break
        total += float(match.group(1)) * GO_UNITS[match.group(2)]
        position = match.end()
    if not body or position != len(body):
        raise DurationError(f"invalid Go duration {_quote(raw)}")
    if total > MAX_SECONDS:
        raise DurationError(f"duration {_quote(raw)} is too large")
    return sign * total


def format_duration_seconds(seconds: int) -> str:
    """5403 -> ``1h30m3s``; 0 -> ``0s``."""
    if seconds <= 0:
        return "0s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)
