"""Django admin for every resource, with bounded, indexed list pages."""

from __future__ import annotations

from django.contrib import admin, messages

from .models import (ApiToken, DeliveryAttempt, DlqEntry, Event, FlowControlKey, Message, Queue,
                     Schedule, SigningKeyPair, Tenant, UrlGroup, UrlGroupEndpoint)
from .retrying import retry_entries
from .schedule_admin import ScheduleAdminMixin


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    list_display = ("prefix", "tenant", "name", "read_only", "created_at", "revoked_at")
    list_filter = ("tenant", "read_only")
    readonly_fields = ("token_hash", "prefix", "created_at")


@admin.register(SigningKeyPair)
class SigningKeyPairAdmin(admin.ModelAdmin):
    list_display = ("tenant", "current", "next", "rotated_at")
    actions = ["rotate"]

    @admin.action(description="Rotate signing keys")
    def rotate(self, request, queryset):
        for pair in queryset:
            pair.rotate()
        self.message_user(request, f"Rotated {queryset.count()} key pairs", messages.SUCCESS)


class DeliveryAttemptInline(admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    can_delete = False
    fields = ("retried", "started_at", "duration_ms", "response_status", "error")
    readonly_fields = fields


@admin.register(Message)
class MessageAdmin(admin.ModelAdmin):
    list_display = ("id", "tenant", "status", "url", "queue_name", "retried", "not_before",
                    "created_at")
    list_filter = ("status", "kind", "tenant")
    list_select_related = ("tenant",)
    search_fields = ("=id",)
    date_hierarchy = "created_at"
    show_full_result_count = False
    inlines = [DeliveryAttemptInline]
    exclude = ("body",)


@admin.register(DlqEntry)
class DlqEntryAdmin(admin.ModelAdmin):
    list_display = ("dlq_id", "tenant", "message", "response_status", "created_at")
    list_filter = ("tenant", "response_status")
    list_select_related = ("tenant", "message")
    search_fields = ("=dlq_id", "=message__id")
    show_full_result_count = False
    exclude = ("response_body",)
    actions = ["retry"]

    @admin.action(description="Retry selected DLQ entries")
    def retry(self, request, queryset):
        new_ids = retry_entries(list(queryset.select_related("message")))
        self.message_user(request, f"Re-published {len(new_ids)} messages", messages.SUCCESS)


@admin.register(Event)
class EventAdmin(admin.ModelAdmin):
    list_display = ("id", "message_id", "state", "url", "time")
    list_filter = ("state", "tenant")
    search_fields = ("=message_id",)
    show_full_result_count = False
    exclude = ("response_body",)


class EndpointInline(admin.TabularInline):
    model = UrlGroupEndpoint
    extra = 1


@admin.register(UrlGroup)
class UrlGroupAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "created_at", "updated_at")
    list_filter = ("tenant",)
    inlines = [EndpointInline]


@admin.register(Queue)
class QueueAdmin(admin.ModelAdmin):
    list_display = ("name", "tenant", "parallelism", "paused", "updated_at")
    list_filter = ("tenant", "paused")


@admin.register(Schedule)
class ScheduleAdmin(ScheduleAdminMixin, admin.ModelAdmin):
    """Validated cron and zone, next-run preview, recent messages, pause/resume/run now."""


@admin.register(FlowControlKey)
class FlowControlKeyAdmin(admin.ModelAdmin):
    list_display = ("key", "tenant", "parallelism_max", "rate_max", "rate_period", "paused")
    list_filter = ("tenant", "paused")
