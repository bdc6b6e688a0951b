"""Cron schedules: one cron string and one message template per schedule."""

from __future__ import annotations

from django.db import models

from django_qstash.models.tenancy import Tenant


class Schedule(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="schedules")
    schedule_id = models.CharField(max_length=200)
    cron = models.CharField(max_length=200)
    destination = models.TextField()
    queue_name = models.CharField(max_length=200, blank=True, default="")
    # The publish options (method, headers, retries, callbacks, …) as the API received them.
    options = models.JSONField(default=dict, blank=True)
    body = models.BinaryField(null=True, blank=True)
    paused = models.BooleanField(default=False)
    caller_ip = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField(auto_now=True)
    last_schedule_time = models.DateTimeField(null=True, blank=True)
    next_schedule_time = models.DateTimeField(null=True, blank=True)
    last_schedule_states = models.JSONField(default=dict, blank=True)
    last_error = models.TextField(blank=True, default="")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["tenant", "schedule_id"], name="qstash_schedule_unique")
        ]
        indexes = [models.Index(fields=["next_schedule_time"], name="qstash_schedule_due",
                                condition=models.Q(paused=False))]

    def __str__(self) -> str:
        return self.schedule_id
