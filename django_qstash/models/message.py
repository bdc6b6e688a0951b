"""Messages (the unit of delivery) and their delivery attempts."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from django_qstash.models.tenancy import Tenant


class MessageQuerySet(models.QuerySet):
    def due(self, now):
        return self.filter(status=Message.Status.PENDING, not_before__lte=now)

    def lease_expired(self, now):
        return self.filter(status=Message.Status.ACTIVE, lease_expires_at__lt=now)

    def claimable_by(self, horizon, now):
        """Anything a dispatcher tick could claim: due by ``horizon`` (claimed ahead), or
        holding a lease that ran out. Asked first, so an idle tick is one indexed look."""
        return self.filter(Q(status=Message.Status.PENDING, not_before__lte=horizon)
                           | Q(status=Message.Status.ACTIVE, lease_expires_at__lt=now))

    def cancellable(self):
        return self.filter(status__in=[Message.Status.PENDING, Message.Status.ACTIVE],
                           cancel_requested=False)

    def undelivered(self):
        return self.filter(status__in=[Message.Status.PENDING, Message.Status.ACTIVE])


class Message(models.Model):
    class Status(models.TextChoices):
        PENDING = "pending"  # waiting for its not_before, its queue or its flow-control key
        ACTIVE = "active"  # claimed by a worker under a lease
        DELIVERED = "delivered"
        FAILED = "failed"
        CANCELED = "canceled"

    class Kind(models.TextChoices):
        MESSAGE = "message"
        CALLBACK = "callback"
        FAILURE_CALLBACK = "failure_callback"

    id = models.CharField(primary_key=True, max_length=80)
    # No index of its own: every index below starts with the tenant.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="messages",
                               db_index=False)
    kind = models.CharField(max_length=20, choices=Kind.choices, default=Kind.MESSAGE)
    source_message_id = models.CharField(max_length=80, blank=True, default="")

    url = models.TextField()
    method = models.CharField(max_length=10, default="POST")
    # Headers sent to the destination: canonical name -> list of values (Content-Type included).
    headers = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(default=b"", blank=True)

    topic_name = models.CharField(max_length=200, blank=True, default="")
    endpoint_name = models.CharField(max_length=200, blank=True, default="")
    queue_name = models.CharField(max_length=200, blank=True, default="")
    schedule_id = models.CharField(max_length=200, blank=True, default="")
    caller_ip = models.CharField(max_length=64, blank=True, default="")

    max_retries = models.PositiveIntegerField(default=3)
    retried = models.PositiveIntegerField(default=0)
    retry_delay_expression = models.TextField(blank=True, default="")
    timeout_seconds = models.PositiveIntegerField(null=True, blank=True)

    callback = models.TextField(blank=True, default="")
    callback_headers = models.JSONField(default=dict, blank=True)
    # method / timeout / retries / retry_delay for the callback message itself.
    callback_options = models.JSONField(default=dict, blank=True)
    failure_callback = models.TextField(blank=True, default="")
    failure_callback_headers = models.JSONField(default=dict, blank=True)
    failure_callback_options = models.JSONField(default=dict, blank=True)

    labels = models.JSONField(default=list, blank=True)
    # ",a,b," so that label filters are one portable LIKE on every database.
    label_index = models.TextField(blank=True, default="")
    redact_fields = models.JSONField(default=list, blank=True)
    flow_control_key = models.CharField(max_length=200, blank=True, default="")
    flow_control_parallelism = models.PositiveIntegerField(null=True, blank=True)
    flow_control_rate = models.PositiveIntegerField(null=True, blank=True)
    flow_control_period = models.PositiveIntegerField(null=True, blank=True)
    deduplication_id = models.CharField(max_length=200, blank=True, default="")
    # The workflow run this message is a step delivery of (its failure fails the run).
    workflow_run_id = models.CharField(max_length=200, blank=True, default="")

    status = models.CharField(max_length=12, choices=Status.choices, default=Status.PENDING)
    cancel_requested = models.BooleanField(default=False)
    not_before = models.DateTimeField()
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    # Bumped on every claim, so a worker whose lease was taken over cannot record a result.
    claim_token = models.PositiveIntegerField(default=0)

    objects = MessageQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            # The dispatcher's two hot queries only ever touch live rows.
            models.Index(fields=["not_before"], name="qstash_msg_due",
                         condition=Q(status="pending")),
            models.Index(fields=["lease_expires_at"], name="qstash_msg_lease",
                         condition=Q(status="active")),
            models.Index(fields=["tenant", "created_at"], name="qstash_msg_tenant_created"),
            models.Index(fields=["tenant", "queue_name", "status"], name="qstash_msg_queue"),
            models.Index(fields=["tenant", "status", "finished_at"], name="qstash_msg_finished"),
            models.Index(fields=["tenant", "workflow_run_id"], name="qstash_msg_workflow_run",
                         condition=~Q(workflow_run_id="")),
        ]

    def __str__(self) -> str:
        return self.id

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DELIVERED, self.Status.FAILED, self.Status.CANCELED)

    @property
    def content_type(self) -> str:
        values = self.headers.get("Content-Type") or []
        return values[0] if values else ""


class DeliveryAttempt(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attempts")
    retried = models.PositiveIntegerField()
    started_at = models.DateTimeField()
    duration_ms = models.PositiveIntegerField(default=0)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["started_at"]

    def __str__(self) -> str:
        return f"{self.message_id} attempt {self.retried}"
