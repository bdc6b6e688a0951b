"""Sidebar filters shared by the message, DLQ and log lists; each one is an indexed lookup."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import Q, QuerySet
from django.utils import timezone
from django.utils.dateparse import parse_date, parse_datetime

from django_qstash.admin.base import TextFilter, visible_tenant_ids
from django_qstash.models import Queue


class DestinationFilter(TextFilter):
    """A URL prefix, or the name of a URL group."""

    title = "destination (URL prefix or URL group)"
    parameter_name = "destination"
    prefix = ""

    def filter(self, queryset: QuerySet, value: str) -> QuerySet:
        if "://" in value:
            return queryset.filter(**{f"{self.prefix}url__startswith": value})
        return queryset.filter(**{f"{self.prefix}topic_name": value})


class LabelFilter(TextFilter):
    title = "label"
    parameter_name = "label"
    prefix = ""

    def filter(self, queryset: QuerySet, value: str) -> QuerySet:
        condition = Q()
        for label in filter(None, (v.strip() for v in value.split(","))):
            condition |= Q(**{f"{self.prefix}label_index__contains": f",{label},"})
        return queryset.filter(condition)


class ScheduleFilter(TextFilter):
    title = "schedule id"
    parameter_name = "schedule"
    lookup = "schedule_id"


class FlowControlFilter(TextFilter):
    title = "flow-control key"
    parameter_name = "flow_control_key"
    lookup = "flow_control_key"


class QueueFilter(admin.SimpleListFilter):
    """Choices come from the (small) queue table, never from a DISTINCT over messages."""

    title = "queue"
    parameter_name = "queue"
    prefix = ""
    NO_QUEUE = "-"

    def lookups(self, request, model_admin):
        queues = Queue.objects.order_by("name")
        if (ids := visible_tenant_ids(request)) is not None:
            queues = queues.filter(tenant_id__in=ids)
        names = sorted(set(queues.values_list("name", flat=True)[:200]))
        return [(self.NO_QUEUE, "(no queue)")] + [(n, n) for n in names]

    def queryset(self, request, queryset):
        value = self.value()
        if value is None:
            return queryset
        return queryset.filter(**{f"{self.prefix}queue_name": "" if value == self.NO_QUEUE
                                  else value})


class MessageIdFilter(TextFilter):
    title = "message id"
    parameter_name = "message_id"
    lookup = "message_id"


def prefixed(filter_class: type, prefix: str) -> type:
    """The same filter applied through a relation, e.g. a DLQ entry's ``message__``."""
    return type(f"Prefixed{filter_class.__name__}", (filter_class,), {"prefix": prefix})


def _aware(value: str) -> object:
    """A date or date-time typed into the URL, read in the current time zone when it names
    none (the ORM would warn about a naive datetime and guess the same)."""
    parsed = parse_datetime(value)
    if parsed is None and (day := parse_date(value)) is not None:
        parsed = timezone.datetime(day.year, day.month, day.day)
    if parsed is None or timezone.is_aware(parsed):
        return value  # left to the field, which rejects what is invalid
    return timezone.make_aware(parsed)


class AwareDateFieldListFilter(admin.DateFieldListFilter):
    """The admin's date filter for date-time columns, without naive-datetime warnings for
    hand-written bounds such as ``?created_at__gte=2026-12-07``."""

    def queryset(self, request, queryset):
        for name, values in self.used_parameters.items():
            if name.endswith(("__gte", "__lt", "__lte", "__gt")):
                self.used_parameters[name] = [_aware(v) for v in values] \
                    if isinstance(values, list) else _aware(values)
        return super().queryset(request, queryset)
