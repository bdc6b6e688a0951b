"""Schedules in the admin: a validating form, run-time preview, recent messages, actions."""

from __future__ import annotations

from functools import lru_cache
from zoneinfo import available_timezones

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import Truncator

from django_qstash.admin.badges import badge
from django_qstash.admin.base import TenantFilter, TenantScopedAdmin
from django_qstash.core import clock, ids
from django_qstash.core.cron import CronError, join_zone, next_fire, parse, split_zone, upcoming
from django_qstash.core.request_headers import validate_name
from django_qstash.core.storable_text import escaped
from django_qstash.engine import scheduler
from django_qstash.engine.publishing import prepare
from django_qstash.exceptions import ApiError
from django_qstash.models import Message, Schedule

PREVIEW_RUNS = 5
RECENT_MESSAGES = 20


@lru_cache(maxsize=1)
def zone_choices() -> list[tuple[str, str]]:
    return [("", "UTC")] + [(z, z) for z in sorted(available_timezones()) if z != "UTC"]


def _pairs(text: str) -> list[list[str]]:
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        if not sep or not name.strip():
            raise ValidationError(f"line {number}: write headers as 'Name: value'")
        pairs.append([name.strip(), value.strip()])
    return pairs


class ScheduleForm(forms.ModelForm):
    expression = forms.CharField(
        label="Cron", help_text="5 fields: minute hour day-of-month month day-of-week, "
                                "e.g. '*/5 * * * *'. Evaluated in the time zone below.")
    time_zone = forms.ChoiceField(choices=zone_choices, required=False, initial="")
    headers = forms.CharField(
        required=False, widget=forms.Textarea(attrs={"rows": 4}),
        help_text="One 'Name: value' per line: Content-Type, Upstash-* settings "
                  "(Upstash-Retries, Upstash-Delay, …) and Upstash-Forward-* headers.")
    body_text = forms.CharField(label="Body", required=False, strip=False,
                                widget=forms.Textarea(attrs={"rows": 4}))

    class Meta:
        model = Schedule
        fields = ["tenant", "schedule_id", "destination", "queue_name", "paused"]
        # One URL or URL group name: a line, not a text area.
        widgets = {"destination": forms.TextInput(attrs={"class": "vURLField"})}

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["schedule_id"].required = False
        self.fields["schedule_id"].help_text = "Leave empty for a generated scd_… id."
        instance = self.instance
        if instance.pk:
            try:
                zone, expression = split_zone(instance.cron)
            except CronError:
                zone, expression = "", instance.cron
            self.initial.update(expression=expression, time_zone=zone)
            pairs = (instance.options or {}).get("headers", [])
            self.initial["headers"] = escaped("\n".join(f"{n}: {v}" for n, v in pairs))
            body = bytes(instance.body or b"")
            try:
                self.initial["body_text"] = body.decode("utf-8")
            except UnicodeDecodeError:  # binary bodies come from the API and stay untouched
                self.fields["body_text"].disabled = True
                self.fields["body_text"].help_text = "Binary body: edit it through the API."

    def clean_schedule_id(self) -> str:
        value = (self.cleaned_data.get("schedule_id") or "").strip() or ids.schedule_id()
        try:
            return validate_name(value, "Schedule id")
        except ApiError as exc:
            raise ValidationError(exc.message) from None

    def clean_queue_name(self) -> str:
        value = (self.cleaned_data.get("queue_name") or "").strip()
        try:
            return validate_name(value, "Queue name") if value else ""
        except ApiError as exc:
            raise ValidationError(exc.message) from None

    def clean(self) -> dict:
        data = super().clean()
        expression = (data.get("expression") or "").strip()
        if expression.upper().startswith(("CRON_TZ=", "TZ=")):
            self.add_error("expression", "choose the time zone below instead of CRON_TZ=")
        elif expression:
            data["cron"] = join_zone(data.get("time_zone") or "", expression)
            try:
                parse(data["cron"])
            except CronError as exc:
                self.add_error("expression", str(exc))
        try:
            data["header_pairs"] = _pairs(data.get("headers") or "")
        except ValidationError as exc:
            self.add_error("headers", exc)
            return data
        body = self._body()
        if data.get("tenant") and data.get("destination") and not self.errors:
            destination = data["destination"].strip()
            try:  # the same check the API makes: what every fire will publish must be valid
                checked = prepare(data["tenant"], destination, body,
                                  [tuple(p) for p in data["header_pairs"]])
                data["destination"] = scheduler.stored_destination(destination, checked)
            except ApiError as exc:
                self.add_error(None, exc.message)
        return data

    def _body(self) -> bytes:
        if self.fields["body_text"].disabled:
            return bytes(self.instance.body or b"")
        return (self.cleaned_data.get("body_text") or "").encode()

    def save(self, commit: bool = True) -> Schedule:
        schedule = super().save(commit=False)
        data, now = self.cleaned_data, clock.now()
        resumed = "paused" in self.changed_data and not schedule.paused
        if not schedule.pk or schedule.cron != data["cron"] or resumed:
            schedule.next_schedule_time = next_fire(data["cron"], now)
        schedule.cron = data["cron"]
        schedule.destination = schedule.destination.strip()
        schedule.options = scheduler.stored_options(data["header_pairs"])
        schedule.body = self._body() or None
        if not schedule.created_at:
            schedule.created_at = now
        if commit:
            schedule.save()
        return schedule


def preview(schedule: Schedule) -> str:
    """The next five runs, in the schedule's own zone and in UTC."""
    if not schedule.cron:
        return "Save the schedule to see its next runs."
    try:
        spec = parse(schedule.cron)
        runs = upcoming(spec, clock.now(), PREVIEW_RUNS)
    except CronError as exc:
        return f"Invalid cron: {exc}"
    zone = spec.zone
    rows = [((run.astimezone(zone) if zone else run).strftime("%a %Y-%m-%d %H:%M %Z"),
             run.strftime("%Y-%m-%d %H:%M UTC")) for run in runs]
    return format_html("<table><tr><th>{}</th><th>UTC</th></tr>{}</table>", spec.zone_name,
                       format_html_join("", "<tr><td>{}</td><td>{}</td></tr>", rows))


def recent_messages(schedule: Schedule) -> str:
    if not schedule.pk:
        return "-"
    states = scheduler.produced_states([schedule])[schedule.pk]
    recent = (Message.objects.filter(tenant_id=schedule.tenant_id, schedule_id=schedule.schedule_id)
              .order_by("-created_at").only("id", "status", "url", "created_at", "retried")
              [:RECENT_MESSAGES])
    rows = [(reverse("admin:django_qstash_message_change", args=[m.pk]), m.pk, m.status,
             m.retried, m.url, m.created_at.strftime("%Y-%m-%d %H:%M:%S UTC")) for m in recent]
    last = ", ".join(f"{mid}: {state}" for mid, state in states.items()) or "-"
    table = format_html_join(
        "", '<tr><td><a href="{}">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>',
        rows)
    return format_html("<p>Last run: {}</p><table><tr><th>Message</th><th>Status</th>"
                       "<th>Retried</th><th>URL</th><th>Created</th></tr>{}</table>",
                       last, table)


class ScheduleAdminMixin:
    """List columns, read-only panels and pause / resume / run-now actions."""

    form = ScheduleForm
    # State and next run first: at 1,400 px they stay in view.
    list_display = ("schedule_id", "state", "cron", "next_schedule_time", "short_destination",
                    "queue_name", "last_schedule_time", "last_error", "tenant")
    list_filter = (TenantFilter, "paused")  # names only the tenants the user may see
    list_select_related = ("tenant",)
    search_fields = ("=schedule_id", "destination")
    readonly_fields = ("next_runs", "produced_messages", "created_at", "last_schedule_time",
                       "next_schedule_time", "last_error", "caller_ip")
    fieldsets = (
        (None, {"fields": ("tenant", "schedule_id", "expression", "time_zone", "next_runs",
                           "destination", "queue_name", "headers", "body_text", "paused")}),
        ("Runs", {"fields": ("created_at", "last_schedule_time", "next_schedule_time",
                             "last_error", "caller_ip", "produced_messages")}),
    )
    actions = ["pause", "resume", "run_now"]

    @admin.display(description="state", ordering="paused")
    def state(self, obj: Schedule) -> str:
        # A badge instead of the boolean icon, whose red cross read as an error.
        return badge("paused") if obj.paused else badge("running")

    @admin.display(description="destination", ordering="destination")
    def short_destination(self, obj: Schedule) -> str:
        return Truncator(obj.destination).chars(48)

    @admin.display(description="Next runs")
    def next_runs(self, obj: Schedule) -> str:
        return preview(obj)

    @admin.display(description="Recent messages")
    def produced_messages(self, obj: Schedule) -> str:
        return recent_messages(obj)

    @admin.action(description="Pause selected schedules")
    def pause(self, request, queryset) -> None:
        for schedule in queryset:
            scheduler.set_paused(schedule, True)
        self.message_user(request, f"Paused {len(queryset)} schedules", messages.SUCCESS)

    @admin.action(description="Resume selected schedules")
    def resume(self, request, queryset) -> None:
        for schedule in queryset:
            scheduler.set_paused(schedule, False)
        self.message_user(request, f"Resumed {len(queryset)} schedules", messages.SUCCESS)

    @admin.action(description="Run selected schedules now")
    def run_now(self, request, queryset) -> None:
        failed = []
        for schedule in queryset:
            if scheduler.run_now(schedule).last_error:
                failed.append(schedule.schedule_id)
        if failed:
            self.message_user(request, f"Could not publish: {', '.join(failed)}", messages.ERROR)
        else:
            self.message_user(request, f"Published {len(queryset)} schedules now",
                              messages.SUCCESS)


@admin.register(Schedule)
class ScheduleAdmin(ScheduleAdminMixin, TenantScopedAdmin):
    """Validated cron and zone, next-run preview, recent messages, pause/resume/run now."""
