"""Stored results of tasks run through the ``django.tasks`` backend, one row per enqueue."""

from __future__ import annotations

from django.db import models

from django_qstash.models.tenancy import Tenant


class TaskResultRecord(models.Model):
    """What ``get_result`` reads: a task's arguments, state, return value and errors."""

    class Status(models.TextChoices):
        # The values of django.tasks' TaskResultStatus, kept here so that this module needs no
        # optional dependency (models load for every site, receiving-only ones included).
        READY = "READY"
        RUNNING = "RUNNING"
        FAILED = "FAILED"
        SUCCESSFUL = "SUCCESSFUL"

    id = models.CharField(primary_key=True, max_length=64)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="task_results")
    backend = models.CharField(max_length=100)
    task_path = models.CharField(max_length=500)
    queue_name = models.CharField(max_length=200)
    priority = models.IntegerField(default=0)
    run_after = models.DateTimeField(null=True, blank=True)
    args = models.JSONField(default=list, blank=True)
    kwargs = models.JSONField(default=dict, blank=True)

    status = models.CharField(max_length=20, choices=Status.choices, default=Status.READY)
    enqueued_at = models.DateTimeField()
    started_at = models.DateTimeField(null=True, blank=True)
    last_attempted_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    return_value = models.JSONField(null=True, blank=True)
    # [{"exception_class_path": ..., "traceback": ...}], one per failed attempt.
    errors = models.JSONField(default=list, blank=True)
    # One entry per delivery attempt ("" for an attempt that never reached this site).
    worker_ids = models.JSONField(default=list, blank=True)
    # The message that carries the task now (a release, a run, or a retry of either from
    # the DLQ), and every one that has, oldest first: their timelines hold each attempt.
    message_id = models.CharField(max_length=80, blank=True, default="")
    message_ids = models.JSONField(default=list, blank=True)

    class Meta:
        verbose_name = "task result"
        indexes = [
            models.Index(fields=["tenant", "status", "enqueued_at"], name="qstash_task_status"),
            models.Index(fields=["tenant", "task_path", "enqueued_at"], name="qstash_task_path"),
            # Retention deletes finished results by age.
            models.Index(fields=["finished_at"], name="qstash_task_finished"),
        ]

    def __str__(self) -> str:
        return f"{self.task_path} ({self.id})"
