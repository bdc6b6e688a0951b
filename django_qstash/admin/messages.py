"""Messages in the admin: filterable list, read-only detail with the full timeline, cancel."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from django_qstash.admin.badges import badge
from django_qstash.admin.base import BigTableAdmin, TenantFilter, body_html, headers_html, json_text
from django_qstash.admin.filters import (
    AwareDateFieldListFilter,
    DestinationFilter,
    FlowControlFilter,
    LabelFilter,
    QueueFilter,
    ScheduleFilter,
)
from django_qstash.admin.timeline import timeline_html
from django_qstash.engine import observability
from django_qstash.engine.cancellation import cancel
from django_qstash.engine.workflow.delivered import materialized
from django_qstash.models import DlqEntry, Message

# Cancelling runs row by row under locks: one request handles at most this many.
MAX_CANCEL = 1000


@admin.register(Message)
class MessageAdmin(BigTableAdmin):
    list_display = ("id", "status_badge", "destination", "kind", "queue_name", "label_list",
                    "retried", "not_before", "created_at", "tenant")
    list_filter = (TenantFilter, "status", "kind", DestinationFilter, QueueFilter, LabelFilter,
                   ScheduleFilter, FlowControlFilter, ("created_at", AwareDateFieldListFilter),
                   ("finished_at", AwareDateFieldListFilter))
    list_select_related = ("tenant",)
    search_fields = ("id",)
    search_help_text = "An exact message id."
    ordering = ("-created_at",)
    actions = ["cancel_messages"]
    change_form_template = "admin/django_qstash/message/change_form.html"
    fieldsets = (
        (None, {"fields": ("id", "tenant", "kind", "source_link", "status", "cancel_requested",
                           "dlq_link")}),
        ("Timeline", {"fields": ("timeline",)}),
        ("Request", {"fields": ("method", "url", "topic_name", "endpoint_name", "queue_name",
                                "schedule_id", "label_list", "caller_ip", "request_headers",
                                "request_body")}),
        ("Delivery", {"fields": ("max_retries", "retried", "retry_delay_expression",
                                 "timeout_seconds", "not_before", "lease_expires_at",
                                 "created_at", "finished_at", "callback", "failure_callback",
                                 "flow_control_key", "deduplication_id")}),
    )

    @admin.display(description="status", ordering="status")
    def status_badge(self, obj: Message) -> str:
        return badge(obj.status)

    def get_queryset(self, request):
        return super().get_queryset(request).defer("body")  # up to a megabyte each

    def get_readonly_fields(self, request, obj=None):
        return [f for fields in (fs["fields"] for _, fs in self.fieldsets) for f in fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # history is read-only; state changes go through the actions

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # finished messages leave through qstash_purge

    def has_cancel_permission(self, request) -> bool:
        return request.user.has_perm("django_qstash.change_message")

    def get_search_results(self, request, queryset, search_term):
        # An exact primary-key match: "icontains" would scan every row.
        term = search_term.strip()
        return (queryset.filter(pk=term) if term else queryset), False

    @admin.display(description="destination", ordering="url")
    def destination(self, obj: Message) -> str:
        url = Truncator(obj.url).chars(80)
        return f"{obj.topic_name} → {url}" if obj.topic_name else url

    @admin.display(description="source message")
    def source_link(self, obj: Message) -> str:
        if not obj.source_message_id:
            return "-"
        url = reverse("admin:django_qstash_message_change", args=[obj.source_message_id])
        return format_html('<a href="{}">{}</a>', url, obj.source_message_id)

    @admin.display(description="DLQ entry")
    def dlq_link(self, obj: Message) -> str:
        entry = DlqEntry.objects.filter(message_id=obj.pk).only("pk", "dlq_id").first()
        if entry is None:
            return "-"
        url = reverse("admin:django_qstash_dlqentry_change", args=[entry.pk])
        return format_html('<a href="{}">{}</a>', url, entry.dlq_id)

    @admin.display(description="labels")
    def label_list(self, obj: Message) -> str:
        return json_text(obj.labels)

    @admin.display(description="headers")
    def request_headers(self, obj: Message) -> str:
        return headers_html(obj.headers)

    @admin.display(description="body")
    def request_body(self, obj: Message) -> str:
        return body_html(materialized(obj))  # a workflow step: the body it is sent with

    @admin.display(description="events and attempts")
    def timeline(self, obj: Message) -> str:
        return timeline_html(obj)

    @admin.action(description="Cancel selected messages", permissions=["cancel"])
    def cancel_messages(self, request: HttpRequest, queryset) -> None:
        ids = list(queryset.cancellable().order_by().values_list("pk", flat=True)[:MAX_CANCEL])
        done = cancel(Message.objects.filter(pk__in=ids))
        observability.operator_action(request.user, "cancel_messages", count=done)
        level = messages.SUCCESS if done else messages.WARNING
        self.message_user(request, f"Canceled {done} messages (delivered, failed and already "
                                   "canceled ones are left as they are)", level)

    def get_urls(self):
        view = self.admin_site.admin_view(require_POST(self.cancel_view))
        return [path("<path:object_id>/cancel/", view, name="django_qstash_message_cancel"),
                *super().get_urls()]

    def cancel_view(self, request: HttpRequest, object_id: str):
        if not self.has_cancel_permission(request):
            raise PermissionDenied
        message = get_object_or_404(self.get_queryset(request), pk=object_id)
        done = cancel(Message.objects.filter(pk=message.pk))
        observability.operator_action(request.user, "cancel_message", message_id=message.pk)
        if done:
            self.message_user(request, f"Canceled {message.pk}", messages.SUCCESS)
        else:
            self.message_user(request, f"{message.pk} is already {message.status}",
                              messages.WARNING)
        return HttpResponseRedirect(reverse("admin:django_qstash_message_change",
                                            args=[message.pk]))

    def render_change_form(self, request, context, *args, **kwargs):
        obj = kwargs.get("obj")
        context["can_cancel"] = bool(obj and not obj.is_finished and not obj.cancel_requested
                                     and self.has_cancel_permission(request))
        return super().render_change_form(request, context, *args, **kwargs)
