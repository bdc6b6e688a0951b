"""Dead-letter queue entries: a failed message plus the last response it got."""

from __future__ import annotations

from django.db import models

from django_qstash.models.message import Message
from django_qstash.models.tenancy import Tenant


class DlqEntry(models.Model):
    dlq_id = models.CharField(max_length=40, unique=True)
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="dlq_entries")
    message = models.OneToOneField(Message, on_delete=models.CASCADE, related_name="dlq_entry")
    response_status = models.PositiveIntegerField(default=0)
    response_headers = models.JSONField(default=dict, blank=True)
    response_body = models.BinaryField(default=b"", blank=True)
    error = models.TextField(blank=True, default="")
    created_at = models.DateTimeField()

    class Meta:
        ordering = ["-created_at"]
        verbose_name = "DLQ entry"
        verbose_name_plural = "DLQ entries"
        indexes = [models.Index(fields=["tenant", "-id"], name="qstash_dlq_tenant_id")]

    def __str__(self) -> str:
        return self.dlq_id
