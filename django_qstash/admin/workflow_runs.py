"""Workflow runs in the admin: filterable list, a run's step timeline, cancel, resume, restart."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.utils.timesince import timesince
from django.views.decorators.http import require_POST

from django_qstash.admin.badges import badge
from django_qstash.admin.base import BigTableAdmin, TenantFilter, TextFilter, body_html, json_text
from django_qstash.admin.filters import AwareDateFieldListFilter, LabelFilter
from django_qstash.admin.workflow_timeline import pending_html, run_timeline_html
from django_qstash.core import clock
from django_qstash.engine import observability
from django_qstash.engine.workflow import dlq
from django_qstash.engine.workflow.runs import cancel_runs
from django_qstash.exceptions import ApiError
from django_qstash.models import DlqEntry, WorkflowRun

State = WorkflowRun.State
STATE_TONES = {State.STARTED: "blue", State.SUCCESS: "green", State.FAILED: "red",
               State.CANCELED: "grey"}
DONE = {dlq.RESUME: "Resumed", dlq.RESTART: "Restarted"}
# One admin request cancels, resumes or restarts at most this many runs.
MAX_BULK = 200


class RunUrlFilter(TextFilter):
    title = "workflow URL (prefix)"
    parameter_name = "url"
    lookup = "url__startswith"


@admin.register(WorkflowRun)
class WorkflowRunAdmin(BigTableAdmin):
    list_display = ("run_id", "state_badge", "short_url", "label_list", "age", "invoker_link",
                    "tenant")
    list_filter = (TenantFilter, "state", RunUrlFilter, LabelFilter,
                   ("created_at", AwareDateFieldListFilter),
                   ("completed_at", AwareDateFieldListFilter))
    list_select_related = ("tenant",)
    search_fields = ("run_id",)
    search_help_text = "An exact workflow run id."
    ordering = ("-pk",)
    actions = ("cancel_selected", "resume_selected", "restart_selected")
    change_form_template = "admin/django_qstash/workflowrun/change_form.html"
    fieldsets = (
        (None, {"fields": ("run_id", "tenant", "state_badge", "url", "label_list", "created_at",
                           "completed_at", "invoker_link", "dlq_link", "error")}),
        ("Steps", {"fields": ("steps", "pending")}),
        ("Result", {"fields": ("result_html", "initial_body_html", "config_text")}),
    )

    def get_queryset(self, request):
        return super().get_queryset(request).defer("initial_body", "result")

    def get_readonly_fields(self, request, obj=None):
        return [f for fields in (fs["fields"] for _, fs in self.fieldsets) for f in fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False  # a run changes through the SDK and the actions only

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # ended runs leave through qstash_purge

    def has_act_permission(self, request) -> bool:
        return request.user.has_perm("django_qstash.change_workflowrun")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()  # exact: "icontains" would scan every run
        return (queryset.filter(run_id=term) if term else queryset), False

    @admin.display(description="state", ordering="state")
    def state_badge(self, obj: WorkflowRun) -> str:
        return badge(obj.state, STATE_TONES.get(obj.state))

    @admin.display(description="URL", ordering="url")
    def short_url(self, obj: WorkflowRun) -> str:
        return Truncator(obj.url).chars(64)

    @admin.display(description="labels")
    def label_list(self, obj: WorkflowRun) -> str:
        return json_text(obj.labels)

    @admin.display(description="age", ordering="created_at")
    def age(self, obj: WorkflowRun) -> str:
        return timesince(obj.created_at, clock.now())

    @admin.display(description="invoked by")
    def invoker_link(self, obj: WorkflowRun) -> str:
        run_id = (obj.invoker or {}).get("workflowRunId") if isinstance(obj.invoker, dict) \
            else None
        if not run_id:
            return "-"
        url = reverse("admin:django_qstash_workflowrun_changelist")
        return format_html('<a href="{}?q={}">{}</a>', url, run_id, run_id)

    @admin.display(description="DLQ entry")
    def dlq_link(self, obj: WorkflowRun) -> str:
        entry = self._entry(obj)
        if entry is None:
            return obj.dlq_id or "-"
        url = reverse("admin:django_qstash_dlqentry_change", args=[entry.pk])
        return format_html('<a href="{}">{}</a>', url, entry.dlq_id)

    @admin.display(description="steps")
    def steps(self, obj: WorkflowRun) -> str:
        return run_timeline_html(obj)

    @admin.display(description="pending and waiting")
    def pending(self, obj: WorkflowRun) -> str:
        return pending_html(obj)

    @admin.display(description="result")
    def result_html(self, obj: WorkflowRun) -> str:
        return body_html(obj.result.encode()) if obj.result is not None else "-"

    @admin.display(description="initial body")
    def initial_body_html(self, obj: WorkflowRun) -> str:
        return body_html(obj.initial_body)

    @admin.display(description="trigger settings")
    def config_text(self, obj: WorkflowRun) -> str:
        return json_text(obj.config)

    @staticmethod
    def _entry(run: WorkflowRun) -> DlqEntry | None:
        """The DLQ entry of a failed run, while it is there: what resume and restart need."""
        if not run.dlq_id:
            return None
        return dlq.workflow_entries(run.tenant_id).filter(dlq_id=run.dlq_id).first()

    # Actions: the same engine functions the API uses.

    @admin.action(description="Cancel selected runs", permissions=["act"])
    def cancel_selected(self, request: HttpRequest, queryset) -> None:
        pks = list(queryset.filter(state=State.STARTED).order_by()
                   .values_list("pk", flat=True)[:MAX_BULK])
        done = cancel_runs(WorkflowRun.objects.filter(pk__in=pks))
        observability.operator_action(request.user, "workflow_cancel", count=done)
        self.message_user(request, f"Canceled {done} runs (ended ones are left as they are)",
                          messages.SUCCESS if done else messages.WARNING)

    @admin.action(description="Resume selected failed runs", permissions=["act"])
    def resume_selected(self, request: HttpRequest, queryset) -> None:
        self._revive_many(request, queryset, dlq.RESUME)

    @admin.action(description="Restart selected failed runs", permissions=["act"])
    def restart_selected(self, request: HttpRequest, queryset) -> None:
        self._revive_many(request, queryset, dlq.RESTART)

    def _revive_many(self, request: HttpRequest, queryset, mode: str) -> None:
        failed = queryset.filter(state=State.FAILED).exclude(dlq_id="").order_by()
        entries = []
        for run in failed.only("pk", "tenant_id", "dlq_id")[:MAX_BULK]:
            if (entry := self._entry(run)) is not None:
                entries.append(entry)
        revived, errors = [], []
        for entry in entries:  # one by one: a run that cannot be revived leaves the others be
            try:
                revived += dlq.revive([entry], mode)
            except ApiError as exc:
                errors.append(exc.message)
        observability.operator_action(request.user, f"workflow_{mode}", count=len(revived))
        self.message_user(request, f"{DONE[mode]} {len(revived)} failed runs as new "
                                   "runs (runs without a DLQ entry are left as they are)",
                          messages.SUCCESS if revived else messages.WARNING)
        for error in errors[:10]:
            self.message_user(request, error, messages.ERROR)

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/cancel/", wrap(require_POST(self.cancel_view)),
                 name="django_qstash_workflowrun_cancel"),
            path("<path:object_id>/resume/", wrap(require_POST(self.resume_view)),
                 name="django_qstash_workflowrun_resume"),
            path("<path:object_id>/restart/", wrap(require_POST(self.restart_view)),
                 name="django_qstash_workflowrun_restart"),
            *super().get_urls(),
        ]

    def _run(self, request: HttpRequest, object_id: str) -> WorkflowRun:
        if not self.has_act_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request), pk=object_id)

    def _back_to(self, run: WorkflowRun):
        return HttpResponseRedirect(reverse("admin:django_qstash_workflowrun_change",
                                            args=[run.pk]))

    def cancel_view(self, request: HttpRequest, object_id: str):
        run = self._run(request, object_id)
        if cancel_runs(WorkflowRun.objects.filter(pk=run.pk)):
            observability.operator_action(request.user, "workflow_cancel_one", run_id=run.run_id)
            self.message_user(request, f"Canceled {run.run_id}", messages.SUCCESS)
        else:
            self.message_user(request, f"{run.run_id} has already ended ({run.state})",
                              messages.WARNING)
        return self._back_to(run)

    def resume_view(self, request: HttpRequest, object_id: str):
        return self._revive_one(request, object_id, dlq.RESUME)

    def restart_view(self, request: HttpRequest, object_id: str):
        return self._revive_one(request, object_id, dlq.RESTART)

    def _revive_one(self, request: HttpRequest, object_id: str, mode: str):
        run = self._run(request, object_id)
        entry = self._entry(run)
        if entry is None:
            self.message_user(request, f"{run.run_id} has no DLQ entry to {mode} from",
                              messages.WARNING)
            return self._back_to(run)
        try:
            [new] = dlq.revive([entry], mode)
        except ApiError as exc:
            self.message_user(request, exc.message, messages.ERROR)
            return self._back_to(run)
        observability.operator_action(request.user, f"workflow_{mode}_one", run_id=run.run_id,
                                      new_run_id=new.run_id)
        self.message_user(request, f"{DONE[mode]} {run.run_id} as {new.run_id}",
                          messages.SUCCESS)
        return self._back_to(new)

    def render_change_form(self, request, context, *args, **kwargs):
        obj = kwargs.get("obj")
        allowed = bool(obj) and self.has_act_permission(request)
        context["can_cancel"] = allowed and obj.is_running
        context["can_revive"] = allowed and obj.state == State.FAILED and \
            self._entry(obj) is not None
        return super().render_change_form(request, context, *args, **kwargs)
