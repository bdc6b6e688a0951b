"""Shared admin pieces: tenant scoping, cheap counts for big tables, text filters, rendering."""

from __future__ import annotations

import json
from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db import connections
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join

from django_qstash.core import strict_json
from django_qstash.core.digits import is_number
from django_qstash.core.storable_text import escaped
from django_qstash.models import Tenant

# Staff users who are not superusers see the tenants named by their groups "qstash-tenant:<name>".
TENANT_GROUP_PREFIX = "qstash-tenant:"
# Filtered lists count at most this many rows: "10,000 results" is as useful as an exact number
# and never scans a million rows.
COUNT_CAP = 10_000
# Below this many rows the table is small enough to count exactly.
ESTIMATE_ABOVE = 100_000
BODY_PREVIEW_BYTES = 16 * 1024


def visible_tenant_ids(request: HttpRequest) -> list[int] | None:
    """None means every tenant (superusers); otherwise the ids the user's groups name."""
    if request.user.is_superuser:
        return None
    if not hasattr(request, "_qstash_tenants"):
        names = [g.removeprefix(TENANT_GROUP_PREFIX) for g in
                 request.user.groups.filter(name__startswith=TENANT_GROUP_PREFIX)
                 .values_list("name", flat=True)]
        request._qstash_tenants = list(Tenant.objects.filter(name__in=names)
                                       .values_list("pk", flat=True))
    return request._qstash_tenants


class EstimatedCountPaginator(Paginator):
    """Unfiltered PostgreSQL tables: the planner's row estimate; filtered ones: a capped count."""

    @cached_property
    def count(self) -> int:
        queryset: QuerySet = self.object_list
        connection = connections[queryset.db]
        if not queryset.query.where and connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute("SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass",
                               [queryset.model._meta.db_table])
                row = cursor.fetchone()
            if row and row[0] > ESTIMATE_ABOVE:
                return int(row[0])
        return queryset.order_by().values("pk")[:COUNT_CAP].count()


class TenantFilter(admin.SimpleListFilter):
    title = "tenant"
    parameter_name = "tenant"

    def lookups(self, request, model_admin):
        tenants = Tenant.objects.order_by("name")
        if (ids := visible_tenant_ids(request)) is not None:
            tenants = tenants.filter(pk__in=ids)
        return [(str(t.pk), t.name) for t in tenants[:500]]

    def queryset(self, request, queryset):
        if self.value() and is_number(self.value()):
            return queryset.filter(**{f"{self.model_admin_path}_id": int(self.value())})
        return queryset

    def __init__(self, request, params, model, model_admin) -> None:
        self.model_admin_path = getattr(model_admin, "tenant_path", "tenant")
        super().__init__(request, params, model, model_admin)


class TextFilter(admin.SimpleListFilter):
    """A free-text box in the filter sidebar; subclasses say how a value filters."""

    template = "admin/django_qstash/text_filter.html"
    lookup: str = ""

    def lookups(self, request, model_admin):
        return [("", "")]  # one dummy choice: the sidebar shows filters that have choices

    def choices(self, changelist):
        yield {"selected": self.value() is None,
               "query_string": changelist.get_query_string(remove=[self.parameter_name]),
               "hidden": [(k, v) for k, v in changelist.params.items()
                          if k != self.parameter_name],
               "display": "All"}

    def queryset(self, request, queryset):
        value = (self.value() or "").strip()
        return self.filter(queryset, value) if value else queryset

    def filter(self, queryset: QuerySet, value: str) -> QuerySet:
        return queryset.filter(**{self.lookup: value})


class TenantScopedAdmin(admin.ModelAdmin):
    """Rows of other tenants are invisible; tenant pickers offer only visible tenants."""

    tenant_path = "tenant"
    show_facets = admin.ShowFacets.NEVER  # facet counts would scan big tables

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if (ids := visible_tenant_ids(request)) is not None:
            queryset = queryset.filter(**{f"{self.tenant_path}_id__in": ids})
        return queryset

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.related_model is Tenant and (ids := visible_tenant_ids(request)) is not None:
            kwargs["queryset"] = Tenant.objects.filter(pk__in=ids)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class BigTableAdmin(TenantScopedAdmin):
    """List pages that hold with millions of rows: no full counts, estimated pagination."""

    paginator = EstimatedCountPaginator
    show_full_result_count = False
    list_per_page = 50


def headers_html(headers: dict | None) -> str:
    if not headers:
        return "-"
    rows = [(escaped(str(name)), escaped(str(value))) for name, values in headers.items()
            for value in (values if isinstance(values, list) else [values])]
    return format_html('<table class="qstash-headers">{}</table>',
                       format_html_join("", "<tr><th>{}</th><td>{}</td></tr>", rows))


def body_text(body: bytes | memoryview | None) -> str:
    raw = bytes(body or b"")
    if not raw:
        return ""
    try:
        text = raw[:BODY_PREVIEW_BYTES].decode("utf-8")
    except UnicodeDecodeError:
        return f"<{len(raw)} bytes of binary data>"
    # JSON reads better indented. A body nested too deeply to parse, or parsed but too deep
    # to indent again (indenting recurses deeper than parsing), is shown as it was sent.
    try:
        return escaped(json.dumps(strict_json.loads(raw), indent=2,
                                  ensure_ascii=False)[:BODY_PREVIEW_BYTES])
    except (ValueError, RecursionError):
        return text + ("…" if len(raw) > BODY_PREVIEW_BYTES else "")


def json_text(value) -> str:
    """A JSON column as the admin shows it by default, with any lone surrogate escaped."""
    return escaped(json.dumps(value, ensure_ascii=False)) if value else "-"


def body_html(body: bytes | memoryview | None) -> str:
    text = body_text(body)
    return format_html('<pre class="qstash-body">{}</pre>', text) if text else "-"
