"""The log (one row per state change) as a read-only, filterable list."""

from __future__ import annotations

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.text import Truncator

from django_qstash.admin.badges import badge
from django_qstash.admin.base import BigTableAdmin, TenantFilter, body_html, headers_html, json_text
from django_qstash.admin.filters import (
    AwareDateFieldListFilter,
    DestinationFilter,
    MessageIdFilter,
    QueueFilter,
)
from django_qstash.models import Event


@admin.register(Event)
class EventAdmin(BigTableAdmin):
    list_display = ("id", "time", "message_link", "state_badge", "destination", "queue_name",
                    "response_status")
    list_filter = (TenantFilter, "state", MessageIdFilter, DestinationFilter, QueueFilter,
                   ("time", AwareDateFieldListFilter))
    list_select_related = ("tenant",)
    search_fields = ("message_id",)
    search_help_text = "An exact message id."
    ordering = ("-pk",)
    fields = ("time", "tenant", "message_link", "state", "url", "topic_name", "endpoint_name",
              "queue_name", "schedule_id", "flow_control_key", "label_list", "error",
              "next_delivery_time", "response_status", "headers", "body")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).defer("response_body")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        return (queryset.filter(message_id=term) if term else queryset), False

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # the log leaves through qstash_purge only

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: Event) -> str:
        return badge(obj.state)

    @admin.display(description="message", ordering="message_id")
    def message_link(self, obj: Event) -> str:
        url = reverse("admin:django_qstash_message_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, obj.message_id)

    @admin.display(description="destination")
    def destination(self, obj: Event) -> str:
        return Truncator(obj.url).chars(70)

    @admin.display(description="labels")
    def label_list(self, obj: Event) -> str:
        return json_text(obj.labels)

    @admin.display(description="response headers")
    def headers(self, obj: Event) -> str:
        return headers_html(obj.response_headers)

    @admin.display(description="response body")
    def body(self, obj: Event) -> str:
        return body_html(obj.response_body)
