"""Workflow runs and the step messages appended to them, in append order."""

from __future__ import annotations

from django.db import models

from django_qstash.models.tenancy import Tenant


class WorkflowRun(models.Model):
    class State(models.TextChoices):
        STARTED = "RUN_STARTED"
        SUCCESS = "RUN_SUCCESS"
        FAILED = "RUN_FAILED"
        CANCELED = "RUN_CANCELED"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="workflow_runs",
                               db_index=False)
    run_id = models.CharField(max_length=200)  # wfr_…, chosen by the SDK
    url = models.TextField()
    state = models.CharField(max_length=20, choices=State.choices, default=State.STARTED)
    initial_body = models.BinaryField(default=b"", blank=True)
    # Given at trigger time, applied to every step message: retries, retry delay, flow
    # control, failure callback, forwarded headers, redaction.
    config = models.JSONField(default=dict, blank=True)
    result = models.TextField(null=True, blank=True)  # what the run returned, as the SDK sent it
    labels = models.JSONField(default=list, blank=True)
    label_index = models.TextField(blank=True, default="")
    flow_control_key = models.CharField(max_length=200, blank=True, default="")
    invoker = models.JSONField(null=True, blank=True)
    init_message_id = models.CharField(max_length=80)
    failure_message_id = models.CharField(max_length=80, blank=True, default="")
    dlq_id = models.CharField(max_length=40, blank=True, default="")
    error = models.TextField(blank=True, default="")  # why the run failed, when no step says
    created_at = models.DateTimeField()
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "run_id"],
                                               name="qstash_wfrun_unique_id")]
        # No index on the URL: a long one would not fit a B-tree entry on PostgreSQL.
        indexes = [models.Index(fields=["tenant", "-id"], name="qstash_wfrun_tenant_id"),
                   # Retention looks for ended runs only.
                   models.Index(fields=["completed_at"], name="qstash_wfrun_completed",
                                condition=models.Q(completed_at__isnull=False))]

    def __str__(self) -> str:
        return self.run_id

    @property
    def is_running(self) -> bool:
        return self.state == self.State.STARTED


class WorkflowStep(models.Model):
    class CallType(models.TextChoices):
        STEP = "step"
        TO_CALLBACK = "toCallback"
        FROM_CALLBACK = "fromCallback"

    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="steps")
    message_id = models.CharField(max_length=80)
    call_type = models.CharField(max_length=20, choices=CallType.choices, default=CallType.STEP)
    body = models.BinaryField(default=b"", blank=True)  # what the SDK published, byte-exact
    step_id = models.IntegerField(default=0)
    step_name = models.TextField(blank=True, default="")
    step_type = models.CharField(max_length=40, blank=True, default="")
    concurrent = models.IntegerField(default=1)
    target_step = models.IntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return f"{self.run_id}:{self.step_id} {self.step_name}"


class WorkflowWaiter(models.Model):
    """A run waiting for an event (context.waitForEvent) until notified or its deadline."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="workflow_waiters",
                               db_index=False)
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="waiters")
    event_id = models.CharField(max_length=200)
    step = models.JSONField(default=dict)  # stepId, stepName, stepType, concurrent, targetStep
    url = models.TextField()
    # The publish headers of the step that notifying (or timing out) appends, as pairs.
    headers = models.JSONField(default=list)
    timeout_url = models.TextField(blank=True, default="")
    timeout_headers = models.JSONField(default=dict)  # name -> [values], as the SDK gave them
    timeout_body = models.TextField(null=True, blank=True)
    deadline = models.DateTimeField()
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["tenant", "event_id"], name="qstash_wfwait_event"),
                   models.Index(fields=["deadline"], name="qstash_wfwait_deadline")]


class WorkflowEvent(models.Model):
    """An event notified to one run before it waits for it (lookback): kept for its waiter."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="workflow_events",
                               db_index=False)
    run = models.ForeignKey(WorkflowRun, on_delete=models.CASCADE, related_name="events")
    event_id = models.CharField(max_length=200)
    data = models.BinaryField(default=b"", blank=True)
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["id"]
        indexes = [models.Index(fields=["run", "event_id"], name="qstash_wfevent_run")]
