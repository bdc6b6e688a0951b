"""Byte budgets for list pages: a page ends where its bodies would pass MAX_LIST_RESPONSE_BYTES."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from django.db.models import QuerySet
from django.db.models.functions import Length

from django_qstash.conf import qstash_settings

# Everything in a row but its bodies (ids, URL, state, headers kept under MAX_HEADER_BYTES):
# a generous average, so pages of small rows still end by count.
ROW_OVERHEAD_BYTES = 2048


def encoded_bytes(raw_bytes: int | None) -> int:
    """What ``raw_bytes`` of body cost in the JSON answer: base64 (text is never longer)."""
    return (raw_bytes or 0) * 4 // 3 + 4


def affordable(sizes: Sequence[int]) -> int:
    """How many leading rows fit the budget; always at least one, so paging moves on."""
    budget, spent = qstash_settings.MAX_LIST_RESPONSE_BYTES, 0
    for kept, size in enumerate(sizes):
        spent += ROW_OVERHEAD_BYTES + size
        if spent > budget and kept:
            return kept
    return len(sizes)


def body_lengths(queryset: QuerySet, field: str, keys: list, key: str = "pk") -> dict:
    """``key`` -> byte length of ``field`` for the given rows, without reading the bodies."""
    return dict(queryset.filter(**{f"{key}__in": keys})
                .annotate(_length=Length(field)).values_list(key, "_length"))


def load_bodies(rows: list, model_field: str, queryset: QuerySet,
                key: Callable = lambda row: row.pk) -> None:
    """Fill a deferred body column of the kept rows with one query."""
    bodies = dict(queryset.filter(pk__in=[key(r) for r in rows])
                  .values_list("pk", model_field))
    for row in rows:
        setattr(row, model_field, bodies.get(key(row)))
