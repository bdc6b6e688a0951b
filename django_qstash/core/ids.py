"""Identifier formats QStash clients expect: msg_…, scd_…, DLQ "<ms>-<seq>"."""

from __future__ import annotations

import itertools
import secrets
import threading

from django_qstash.core import clock

BASE58_ALPHABET = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def base58(length: int) -> str:
    # One uniform draw below 58**length, written in base 58: every string equally likely,
    # one call for the randomness instead of one per character.
    value = secrets.randbelow(_SPANS.get(length) or 58 ** length)
    digits = []
    for _ in range(length):
        value, rem = divmod(value, 58)
        digits.append(BASE58_ALPHABET[rem])
    return "".join(digits)


_SPANS = {n: 58 ** n for n in (20, 24, 27, 28, 40)}


def message_id() -> str:
    # A millisecond prefix keeps ids roughly time-ordered, which helps B-tree locality.
    return f"msg_{_base58_int(clock.now_ms())}{base58(20)}"


def schedule_id() -> str:
    return f"scd_{base58(24)}"


_dlq_lock = threading.Lock()
_dlq_last_ms = 0
_dlq_seq = itertools.count()


def dlq_id(now_ms: int | None = None) -> str:
    """Redis-stream-style id ("<ms>-<seq>") like QStash's, unique within this process."""
    global _dlq_last_ms, _dlq_seq
    ms = now_ms if now_ms is not None else clock.now_ms()
    with _dlq_lock:
        if ms != _dlq_last_ms:
            _dlq_last_ms, _dlq_seq = ms, itertools.count()
        seq = next(_dlq_seq)
    # A random tail keeps ids unique across processes writing in the same millisecond.
    return f"{ms}-{seq}{secrets.randbelow(10**6):06d}"


def _base58_int(value: int) -> str:
    digits = []
    while value:
        value, rem = divmod(value, 58)
        digits.append(BASE58_ALPHABET[rem])
    return "".join(reversed(digits)) or "1"
