"""Task results in the admin: state, arguments, errors, their messages, and run again."""

from __future__ import annotations

import json

from django.contrib import admin, messages
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from django_qstash.admin.base import BigTableAdmin, TenantFilter
from django_qstash.models import TaskResultRecord

MAX_RUN_AGAIN = 100


def _json_html(value) -> str:
    text = json.dumps(value, indent=2, ensure_ascii=False, default=str)
    return format_html('<pre class="qstash-body">{}</pre>', text)


def _message_link(message_id: str) -> str:
    url = reverse("admin:django_qstash_message_change", args=[message_id])
    return format_html('<a href="{}">{}</a>', url, message_id)


@admin.register(TaskResultRecord)
class TaskResultAdmin(BigTableAdmin):
    list_display = ("id", "task_path", "status", "queue_name", "tenant", "enqueued_at",
                    "finished_at", "attempts", "current_message")
    list_filter = (TenantFilter, "status")
    list_select_related = ("tenant",)
    search_fields = ("=id", "task_path")
    ordering = ("-enqueued_at",)
    actions = ["run_again"]
    fields = ("id", "tenant", "backend", "task_path", "queue_name", "status", "run_after",
              "enqueued_at", "started_at", "last_attempted_at", "finished_at", "attempts",
              "worker_ids", "arguments", "return_value_html", "errors_html", "messages_html")
    readonly_fields = fields

    def has_add_permission(self, request) -> bool:
        return False  # tasks are enqueued by code (or "run again"), never typed in

    @admin.display(description="attempts")
    def attempts(self, obj: TaskResultRecord) -> int:
        return len(obj.worker_ids)

    @admin.display(description="message")
    def current_message(self, obj: TaskResultRecord) -> str:
        return _message_link(obj.message_id) if obj.message_id else "-"

    @admin.display(description="arguments")
    def arguments(self, obj: TaskResultRecord) -> str:
        return _json_html({"args": obj.args, "kwargs": obj.kwargs})

    @admin.display(description="return value")
    def return_value_html(self, obj: TaskResultRecord) -> str:
        return _json_html(obj.return_value) if obj.status == obj.Status.SUCCESSFUL else "-"

    @admin.display(description="errors")
    def errors_html(self, obj: TaskResultRecord) -> str:
        if not obj.errors:
            return "-"
        return format_html_join("", '<p><b>{}</b></p><pre class="qstash-body">{}</pre>',
                                ((e["exception_class_path"], e["traceback"])
                                 for e in obj.errors))

    @admin.display(description="messages (each timeline shows its attempts)")
    def messages_html(self, obj: TaskResultRecord) -> str:
        if not obj.message_ids:
            return "-"
        return format_html_join(" ", "{}", ((_message_link(m),) for m in obj.message_ids))

    @admin.action(description="Run selected tasks again", permissions=["change"])
    def run_again(self, request, queryset) -> None:
        """Enqueue each task anew with the same arguments: a new result, the old one kept."""
        from django_qstash.tasks_backend.store import import_task

        new_ids, problems = [], []
        for record in queryset.order_by("enqueued_at")[:MAX_RUN_AGAIN]:
            try:
                # The task as it is now, on the backend and queue it ran on (both checked).
                task = import_task(record.task_path).using(queue_name=record.queue_name,
                                                           backend=record.backend)
                new_ids.append(task.enqueue(*record.args, **record.kwargs).id)
            except Exception as error:  # noqa: BLE001 — a renamed task fails its row only
                problems.append(f"{record.id}: {error}")
        if new_ids:
            self.message_user(request, f"Enqueued {len(new_ids)} tasks again: "
                                       f"{', '.join(new_ids)}", messages.SUCCESS)
        for problem in problems:
            self.message_user(request, f"Not enqueued: {problem}", messages.ERROR)
