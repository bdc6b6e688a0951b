"""JSON as the standard and the SDKs have it: Python's parser also reads NaN and Infinity, and
reads 1e400 as infinity; those are refused here (ValueError), as any malformed JSON is, and so
is nesting too deep for the parser (which raises RecursionError)."""

from __future__ import annotations

import json
import math
from typing import Any


def loads(text: str | bytes) -> Any:
    try:
        return json.loads(text, parse_constant=_refuse, parse_float=_finite)
    except RecursionError:
        raise NestedTooDeeply("nested too deeply") from None


class NestedTooDeeply(ValueError):
    pass


def _refuse(constant: str):
    raise ValueError(f"{constant} is not a JSON value")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:40]} is too large")
    return value
