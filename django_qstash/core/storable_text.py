"""Text no database can store, nor any response encode: NUL characters and lone surrogates."""

from __future__ import annotations

from collections.abc import Iterable

from django_qstash.exceptions import BadRequest

NUL = "a NUL character (\\x00)"
SURROGATE = "a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"


def flaw(text: str, allow_nul: bool = False) -> str | None:
    """What makes ``text`` unstorable, or None. PostgreSQL refuses NUL in text; UTF-8 (every
    database, and every response) cannot encode a lone surrogate, which JSON's "\\ud800"
    escape, the test client and Python strings can produce."""
    if not allow_nul and "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def json_flaw(data) -> str | None:
    """What makes a parsed JSON document unstorable (a key or string in it), or None. A
    "body" string may hold NUL: a batch item's or an invoke's body is stored as bytes."""
    stack = [(data, False)]  # iterative: a deeply nested document must not exhaust the stack
    while stack:
        item, allow_nul = stack.pop()
        if isinstance(item, str):
            if problem := flaw(item, allow_nul):
                return problem
        elif isinstance(item, list):
            stack.extend((value, False) for value in item)
        elif isinstance(item, dict):
            for key, value in item.items():
                stack.append((key, False))
                stack.append((value, key == "body" and isinstance(value, str)))
    return None


def reject_unstorable(parts: Iterable[tuple[str, str]]) -> None:
    """A 400 naming the first ``(where, text)`` whose text is unstorable."""
    for where, text in parts:
        if isinstance(text, str) and (problem := flaw(text)):
            raise BadRequest(f"{where} contains {problem}, which is not allowed")


def reject_unstorable_headers(pairs: Iterable[tuple[str, str]]) -> None:
    """A 400 naming the first header whose name or value is unstorable."""
    reject_unstorable((f"header {name[:80]!r}", text) for name, value in pairs
                      for text in (name, value))


def reject_unstorable_publish(destination: str, pairs: Iterable[tuple[str, str]],
                              queue_name: str = "", body: str | None = None) -> None:
    """A publish (from code, or prepared for any caller) before anything is written or sent:
    its destination, queue, header names and values (labels and callbacks are headers), and
    a text body (which may hold NUL: it is stored as bytes)."""
    pairs = list(pairs)
    # Every publish passes here: one scan of all the text; the pass part by part only runs
    # to name the culprit.
    everything = "".join((destination, queue_name, *(n + v for n, v in pairs)))
    if everything.isascii() and "\x00" not in everything and (body is None or body.isascii()):
        return
    reject_unstorable([("destination", destination), ("queue name", queue_name)])
    reject_unstorable_headers(pairs)
    if body is not None and (problem := flaw(body, allow_nul=True)) is not None:
        raise BadRequest(f"message body contains {problem}, which is not allowed")


def escaped(text: str) -> str:
    """``text`` as any response can encode it: a lone surrogate (in rows stored before they
    were refused, or decoded from a JSON body's "\\ud800") shown as that escape."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return text.encode("utf-8", "backslashreplace").decode("utf-8")
    return text
