"""The views a URLconf routes to, and which of them are the QStash API's."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any


def url_views(patterns: list) -> Iterator[Any]:
    for pattern in patterns:
        if hasattr(pattern, "url_patterns"):
            yield from url_views(pattern.url_patterns)
        elif callable(getattr(pattern, "callback", None)):
            yield pattern.callback


def is_api_view(view: Any) -> bool:
    """A view of the QStash API: a DRF or Django class-based view's function, or a function.
    By module name, so that a receiver-only install (no DRF) can ask without importing it."""
    owner = getattr(view, "cls", None) or getattr(view, "view_class", None) or view
    return getattr(owner, "__module__", "").startswith("django_qstash.api.")


def dotted_name(view: Any) -> str:
    return f"{getattr(view, '__module__', '')}.{getattr(view, '__qualname__', '')}"
