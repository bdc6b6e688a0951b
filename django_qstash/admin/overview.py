"""The QStash overview: how the queue is doing, drawn from rollups and live-row indexes."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseBadRequest
from django.template.response import TemplateResponse
from django.urls import path, reverse

from django_qstash.admin import overview_queries as figures
from django_qstash.admin.badges import badge
from django_qstash.admin.base import visible_tenant_ids
from django_qstash.admin.charts import duration_label, line_chart
from django_qstash.core import clock
from django_qstash.core.digits import is_number
from django_qstash.engine.rollup_fold import unfolded
from django_qstash.models import Overview, Tenant
from django_qstash.models.rollup import COUNTERS

COUNTER_LABELS = {"published": "published", "delivered": "delivered", "retried": "retried",
                  "failed": "failed (to the DLQ)", "canceled": "cancelled"}


@admin.register(Overview)
class OverviewAdmin(admin.ModelAdmin):
    """One read-only page; whoever may view messages may view it, for their tenants only."""

    def has_view_permission(self, request, obj=None) -> bool:
        return request.user.has_perm("django_qstash.view_message")

    def has_module_permission(self, request) -> bool:
        return self.has_view_permission(request)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    def get_urls(self):
        return [path("", self.admin_site.admin_view(self.changelist_view),
                     name="django_qstash_overview_changelist")]

    def changelist_view(self, request: HttpRequest, extra_context=None):
        if not self.has_view_permission(request):
            raise PermissionDenied
        window = figures.WINDOWS.get(request.GET.get("range") or "hour")
        if window is None:
            return HttpResponseBadRequest("unknown range: use hour, day or week")
        visible = visible_tenant_ids(request)
        tenants = Tenant.objects.order_by("name")
        if visible is not None:
            tenants = tenants.filter(pk__in=visible)
        tenants = list(tenants.values_list("pk", "name")[:500])
        chosen = request.GET.get("tenant") or ""
        if chosen and not (is_number(chosen) and int(chosen) in {pk for pk, _ in tenants}):
            return HttpResponseBadRequest("unknown tenant")
        scope = [int(chosen)] if chosen else visible
        context = {**self.admin_site.each_context(request), "opts": self.model._meta,
                   "title": "QStash overview", "window": window, "windows": figures.WINDOWS,
                   "tenants": tenants, "chosen": chosen,
                   **build(scope, window, chosen), **(extra_context or {})}
        return TemplateResponse(request, "admin/django_qstash/overview.html", context)


def message_list_url(**params) -> str:
    query = urlencode({k: v for k, v in params.items() if v})
    return reverse("admin:django_qstash_message_changelist") + (f"?{query}" if query else "")


def build(scope: list[int] | None, window: figures.Window, chosen: str) -> dict:
    now = clock.now()
    live = unfolded(scope)  # read once for both: the minutes not folded into the rollups yet
    activity = figures.activity(scope, window, now, live)
    dlq = figures.dlq(scope, activity)
    destinations = figures.destinations(scope, window, now, live)
    for row in destinations["failing"] + destinations["slowest"]:
        row["failed_url"] = message_list_url(tenant=chosen, destination=row["origin"],
                                             status__exact="failed")
        row["all_url"] = message_list_url(tenant=chosen, destination=row["origin"])
        row["mean_label"] = duration_label(row["mean_ms"])
    schedules = figures.schedules(scope)
    for item in schedules:
        item["last_run"] = [(message_id, badge(state))
                            for message_id, state in item["last_run"]]
    latency_classes = {"p50": "qs-c2", "p95": "qs-c4", "p99": "qs-c5"}
    charts = {
        "traffic": line_chart(activity.starts, [
            (COUNTER_LABELS[c], activity.counters[c], f"qs-{c}") for c in COUNTERS],
            title=f"Messages per {step_name(window)}"),
        "wait": line_chart(activity.starts, [
            (name, values, latency_classes[name])
            for name, values in activity.latency_series("wait").items()],
            title="Due → first attempt", log=True, durations=True),
        "done": line_chart(activity.starts, [
            (name, values, latency_classes[name])
            for name, values in activity.latency_series("done").items()],
            title="Publish → delivered", log=True, durations=True),
        "dlq": line_chart(activity.starts, [("entries", dlq["series"], "qs-failed")],
                          title="DLQ size"),
    }
    return {"activity": activity, "charts": charts, "dlq": dlq,
            "totals": [(COUNTER_LABELS[c], activity.totals[c], c) for c in COUNTERS],
            "wait_totals": _labels(activity.latency_totals("wait")),
            "done_totals": _labels(activity.latency_totals("done")),
            "queues": figures.queue_lag(scope), "waitlists": figures.waitlists(scope),
            "destinations": destinations, "schedules": schedules,
            "dlq_url": reverse("admin:django_qstash_dlqentry_changelist")
            + (f"?tenant={chosen}" if chosen else ""), "now": now}


def step_name(window: figures.Window) -> str:
    minutes = int(window.step.total_seconds() // 60)
    return "minute" if minutes == 1 else f"{minutes} minutes" if minutes < 60 else "hour"


def _labels(percentiles: dict[str, float | None]) -> dict[str, str]:
    return {name: duration_label(ms) for name, ms in percentiles.items()}
