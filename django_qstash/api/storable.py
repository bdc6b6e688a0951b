"""Refuse request text that no database can store: NUL characters and lone surrogates."""

from __future__ import annotations

from ..exceptions import BadRequest

NUL = "a NUL character (\\x00)"
SURROGATE = "a lone surrogate (\\ud800-\\udfff), which is not valid Unicode"


def flaw(text: str, allow_nul: bool = False) -> str | None:
    """What makes ``text`` unstorable, or None. PostgreSQL refuses NUL in text; UTF-8 (every
    database, and every response) cannot encode a lone surrogate, which JSON's "\\ud800"
    escape and the test client can produce."""
    if not allow_nul and "\x00" in text:
        return NUL
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE
    return None


def reject_unstorable_request(request, kwargs: dict) -> None:
    """Path parts, query parameters and headers: a 400 naming the first unstorable one."""
    meta = request.META
    query = meta.get("QUERY_STRING", "")
    if (not _suspect(query) and "%00" not in query
            and not any(_suspect(v) for v in kwargs.values() if isinstance(v, str))
            and not any(_suspect(v) for k, v in meta.items()
                        if k.startswith("HTTP_") and isinstance(v, str))
            and not _suspect(meta.get("CONTENT_TYPE") or "")):
        return  # the usual case, checked without building the list below
    parts = [(f"path part {name}", value) for name, value in kwargs.items()]
    parts += [(f"query parameter {key!r}", text) for key, values in request.GET.lists()
              for text in (key, *values)]
    parts += [(f"header {key[5:].replace('_', '-').title()}", value)
              for key, value in meta.items() if key.startswith("HTTP_")]
    parts.append(("header Content-Type", meta.get("CONTENT_TYPE") or ""))
    for where, text in parts:
        if isinstance(text, str) and (problem := flaw(text)):
            raise BadRequest(f"{where} contains {problem}, which is not allowed")


def reject_unstorable_json(data) -> None:
    """A parsed JSON document: a 400 if any key or string in it is unstorable."""
    stack = [(data, False)]  # iterative: a deeply nested document must not exhaust the stack
    while stack:
        item, allow_nul = stack.pop()
        if isinstance(item, str):
            if problem := flaw(item, allow_nul):
                raise BadRequest(f"request body contains {problem}, which is not allowed")
        elif isinstance(item, list):
            stack.extend((value, False) for value in item)
        elif isinstance(item, dict):
            for key, value in item.items():
                # A batch item's "body" is stored as bytes, where NUL is as good as any byte.
                stack.append((key, False))
                stack.append((value, key == "body" and isinstance(value, str)))


def _suspect(text: str) -> bool:
    return "\x00" in text or not text.isascii()
