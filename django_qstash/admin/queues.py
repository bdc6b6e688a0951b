"""Queues and flow-control keys: parallelism, lag and waitlists, pause / resume / pin."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, Subquery
from django.db.models.functions import Coalesce

from django_qstash.admin.base import TenantFilter, TenantScopedAdmin
from django_qstash.core.request_headers import validate_name
from django_qstash.engine import observability
from django_qstash.engine.flow_control import fresh_rate_window, reset_rate_windows
from django_qstash.exceptions import ApiError
from django_qstash.models import FlowControlKey, Message, Queue

MAX_PARALLELISM = 1000
LIVE = [Message.Status.PENDING, Message.Status.ACTIVE]


def live_count(**filters) -> Coalesce:
    """A per-row COUNT of live messages; only the page's rows are counted."""
    rows = (Message.objects.filter(tenant_id=OuterRef("tenant_id"), **filters).order_by()
            .values("tenant_id").annotate(n=Count("pk")).values("n"))
    return Coalesce(Subquery(rows, output_field=IntegerField()), 0)


class QueueForm(forms.ModelForm):
    class Meta:
        model = Queue
        fields = ["tenant", "name", "parallelism", "paused"]

    def clean_name(self) -> str:
        try:
            return validate_name((self.cleaned_data.get("name") or "").strip(), "Queue name")
        except ApiError as exc:
            raise forms.ValidationError(exc.message) from None

    def clean_parallelism(self) -> int:
        value = self.cleaned_data["parallelism"]
        if not 1 <= value <= MAX_PARALLELISM:
            raise forms.ValidationError(f"must be from 1 to {MAX_PARALLELISM}")
        return value


def _set_flag(admin_obj, request, queryset, field: str, value: bool, verb: str) -> None:
    changed = queryset.exclude(**{field: value}).update(**{field: value})
    observability.operator_action(request.user, f"{admin_obj.opts.model_name}_{verb}",
                                  count=changed)
    admin_obj.message_user(request, f"{verb.capitalize()}d {changed} "
                                    f"{admin_obj.opts.verbose_name_plural}", messages.SUCCESS)


@admin.register(Queue)
class QueueAdmin(TenantScopedAdmin):
    form = QueueForm
    list_display = ("name", "tenant", "parallelism", "paused", "lag", "updated_at")
    list_editable = ("parallelism",)
    list_filter = (TenantFilter, "paused")
    list_select_related = ("tenant",)
    search_fields = ("name",)
    ordering = ("tenant__name", "name")
    actions = ["pause", "resume"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(lag_count=live_count(
            queue_name=OuterRef("name"), kind=Message.Kind.MESSAGE, status__in=LIVE))

    @admin.display(description="lag", ordering="lag_count")
    def lag(self, obj: Queue) -> int:
        return obj.lag_count

    @admin.action(description="Pause selected queues")
    def pause(self, request, queryset) -> None:
        _set_flag(self, request, queryset, "paused", True, "pause")

    @admin.action(description="Resume selected queues")
    def resume(self, request, queryset) -> None:
        _set_flag(self, request, queryset, "paused", False, "resume")


@admin.register(FlowControlKey)
class FlowControlKeyAdmin(TenantScopedAdmin):
    list_display = ("key", "tenant", "parallelism_max", "rate_max", "rate_period", "paused",
                    "pinned_parallelism", "pinned_rate", "waitlist", "in_flight")
    list_filter = (TenantFilter, "paused", "pinned_parallelism", "pinned_rate")
    list_select_related = ("tenant",)
    search_fields = ("key",)
    ordering = ("tenant__name", "key")
    fields = ("tenant", "key", "parallelism_max", "rate_max", "rate_period", "paused",
              "pinned_parallelism", "pinned_rate", "created_at", "updated_at")
    readonly_fields = ("tenant", "key", "created_at", "updated_at")
    actions = ["pause", "resume", "pin", "unpin", "reset_rate"]

    def has_add_permission(self, request) -> bool:
        return False  # keys appear with the first message that names them

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(
            waitlist_count=live_count(flow_control_key=OuterRef("key"),
                                      status=Message.Status.PENDING),
            active_count=live_count(flow_control_key=OuterRef("key"),
                                    status=Message.Status.ACTIVE))

    @admin.display(description="waitlist", ordering="waitlist_count")
    def waitlist(self, obj: FlowControlKey) -> int:
        return obj.waitlist_count

    @admin.display(description="in flight", ordering="active_count")
    def in_flight(self, obj: FlowControlKey) -> int:
        return obj.active_count

    def save_model(self, request, obj, form, change) -> None:
        if {"parallelism_max", "rate_max", "rate_period"} & set(form.changed_data):
            fresh_rate_window(obj)  # new limits start a fresh rate window, as pin does
        super().save_model(request, obj, form, change)

    @admin.action(description="Pause selected keys")
    def pause(self, request, queryset) -> None:
        _set_flag(self, request, queryset, "paused", True, "pause")

    @admin.action(description="Resume selected keys")
    def resume(self, request, queryset) -> None:
        _set_flag(self, request, queryset, "paused", False, "resume")

    @admin.action(description="Pin current parallelism and rate (publishes stop changing them)")
    def pin(self, request, queryset) -> None:
        changed = queryset.update(pinned_parallelism=True, pinned_rate=True)
        observability.operator_action(request.user, "flow_control_pin", count=changed)
        self.message_user(request, f"Pinned {changed} keys", messages.SUCCESS)

    @admin.action(description="Unpin (the next publish configures them again)")
    def unpin(self, request, queryset) -> None:
        changed = queryset.update(pinned_parallelism=False, pinned_rate=False)
        observability.operator_action(request.user, "flow_control_unpin", count=changed)
        self.message_user(request, f"Unpinned {changed} keys", messages.SUCCESS)

    @admin.action(description="Reset the rate window")
    def reset_rate(self, request, queryset) -> None:
        changed = reset_rate_windows(queryset)
        observability.operator_action(request.user, "flow_control_reset_rate", count=changed)
        self.message_user(request, f"Reset the rate window of {changed} keys", messages.SUCCESS)
