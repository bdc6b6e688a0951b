"""The log: one row per state transition of a message, kept after the message is gone."""

from __future__ import annotations

from django.db import models

from django_qstash.models.tenancy import Tenant


class Event(models.Model):
    class State(models.TextChoices):
        CREATED = "CREATED"
        ACTIVE = "ACTIVE"
        RETRY = "RETRY"
        ERROR = "ERROR"
        DELIVERED = "DELIVERED"
        FAILED = "FAILED"
        CANCEL_REQUESTED = "CANCEL_REQUESTED"
        CANCELED = "CANCELED"

    # No index of its own: both indexes below start with the tenant.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="events",
                               db_index=False)
    message_id = models.CharField(max_length=80, db_index=True)
    state = models.CharField(max_length=20, choices=State.choices)
    time = models.DateTimeField()
    url = models.TextField()
    topic_name = models.CharField(max_length=200, blank=True, default="")
    endpoint_name = models.CharField(max_length=200, blank=True, default="")
    queue_name = models.CharField(max_length=200, blank=True, default="")
    schedule_id = models.CharField(max_length=200, blank=True, default="")
    flow_control_key = models.CharField(max_length=200, blank=True, default="")
    labels = models.JSONField(default=list, blank=True)
    # ",a,b," so that label filters are one portable LIKE on every database.
    label_index = models.TextField(blank=True, default="")
    error = models.TextField(blank=True, default="")
    next_delivery_time = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_headers = models.JSONField(null=True, blank=True)
    response_body = models.BinaryField(null=True, blank=True)

    class Meta:
        ordering = ["-id"]
        indexes = [
            models.Index(fields=["tenant", "-id"], name="qstash_event_tenant_id"),
            models.Index(fields=["tenant", "time"], name="qstash_event_tenant_time"),
        ]

    def __str__(self) -> str:
        return f"{self.message_id} {self.state}"
