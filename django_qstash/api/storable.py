"""Refuse request text that no database can store: NUL characters and lone surrogates."""

from __future__ import annotations

from django_qstash.core.storable_text import json_flaw, reject_unstorable
from django_qstash.exceptions import BadRequest


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
    reject_unstorable(parts)


def reject_unstorable_json(data) -> None:
    """A parsed JSON document: a 400 if any key or string in it is unstorable."""
    if problem := json_flaw(data):
        raise BadRequest(f"request body contains {problem}, which is not allowed")


def _suspect(text: str) -> bool:
    return "\x00" in text or not text.isascii()
