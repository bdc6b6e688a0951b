"""Query-string filters shared by messages, DLQ and logs: multi-value, dates, cursor, count."""

from __future__ import annotations

from collections.abc import Callable

from django.db.models import Q, QuerySet

from django_qstash.core.clock import from_ms
from django_qstash.core.digits import is_number
from django_qstash.exceptions import BadRequest


def multi(request, name: str) -> list[str]:
    """``label=a&label=b`` and ``label=a,b`` both mean a OR b."""
    values: list[str] = []
    for raw in request.GET.getlist(name):
        values.extend(v.strip() for v in raw.split(",") if v.strip())
    return values


def integer(request, name: str, default: int | None = None, *, maximum: int | None = None):
    raw = request.GET.get(name)
    if raw in (None, ""):
        return default
    text = raw.strip()  # the text checked is the text converted: int() refuses what strip() drops
    if not is_number(text):
        raise BadRequest(f"{name} must be a non-negative integer of at most 15 digits")
    value = int(text)
    return min(value, maximum) if maximum else value


# filter name -> model field, for Message-like rows (prefix for related lookups)
COMMON_FILTERS = {
    "url": "url", "topicName": "topic_name", "queueName": "queue_name",
    "scheduleId": "schedule_id", "flowControlKey": "flow_control_key",
}


def apply_filters(queryset: QuerySet, request, *, prefix: str = "", date_field: str,
                  extra: dict[str, str] | None = None, caller_ip: bool = True) -> QuerySet:
    fields = {**COMMON_FILTERS, **(extra or {})}
    for name, field in fields.items():
        values = multi(request, name)
        if values:
            queryset = queryset.filter(**{f"{prefix}{field}__in": values})
    for name, pattern in (("host", "://{}"), ("path", "{}")):
        values = multi(request, name)
        if values:
            condition = Q()
            for value in values:
                condition |= Q(**{f"{prefix}url__contains": pattern.format(value)})
            queryset = queryset.filter(condition)
    labels = multi(request, "label")
    if labels:
        condition = Q()
        for label in labels:
            condition |= Q(**{f"{prefix}label_index__contains": f",{label},"})
        queryset = queryset.filter(condition)
    if caller_ip:
        ips = multi(request, "callerIp") or multi(request, "callerIP")
        if ips:
            queryset = queryset.filter(**{f"{prefix}caller_ip__in": ips})
    for name, lookup in (("fromDate", "gte"), ("toDate", "lte")):
        ms = integer(request, name)
        if ms is not None:
            try:
                moment = from_ms(ms)
            except (ValueError, OverflowError, OSError):  # past year 9999 or the platform's time_t
                raise BadRequest(f"{name} is out of range: unix milliseconds expected") from None
            queryset = queryset.filter(**{f"{date_field}__{lookup}": moment})
    return queryset


def check_known(request, allowed: set[str]) -> None:
    unknown = sorted(set(request.GET.keys()) - allowed - {"qstash_token"})
    if unknown:
        raise BadRequest(f"unknown filter: {', '.join(unknown)}")


def cursor_page(queryset: QuerySet, request, *, default: int, maximum: int,
                fits: Callable[[list], int] | None = None) -> tuple[list, str | None]:
    """Newest first by id; the cursor is the id below which the next page starts.

    ``fits`` may end the page earlier: given the rows, it says how many leading ones to keep
    (a byte budget); the cursor then points right after the last one kept."""
    cursor = request.GET.get("cursor")
    if cursor:
        if not is_number(cursor):
            raise BadRequest("invalid cursor")
        queryset = queryset.filter(id__lt=int(cursor))
    count = integer(request, "count", default, maximum=maximum) or default
    rows = list(queryset.order_by("-id")[: count + 1])
    kept = min(count, len(rows))
    if fits is not None and kept:
        kept = max(1, min(kept, fits(rows[:kept])))
    next_cursor = str(rows[kept - 1].id) if len(rows) > kept else None
    return rows[:kept], next_cursor
