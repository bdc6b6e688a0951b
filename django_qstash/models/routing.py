"""Routing resources: FIFO queues, URL groups with endpoints, flow-control keys, dedup records."""

from __future__ import annotations

from django.db import models

from django_qstash.models.tenancy import Tenant


class Queue(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="queues")
    name = models.CharField(max_length=200)
    parallelism = models.PositiveIntegerField(default=1)
    paused = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="qstash_queue_unique")]

    def __str__(self) -> str:
        return self.name


class UrlGroup(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="url_groups")
    name = models.CharField(max_length=200)
    # Config headers (e.g. Upstash-Retries) applied to every publish to this group.
    default_headers = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "URL group"
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="qstash_group_unique")]

    def __str__(self) -> str:
        return self.name


class UrlGroupEndpoint(models.Model):
    group = models.ForeignKey(UrlGroup, on_delete=models.CASCADE, related_name="endpoints")
    url = models.TextField()
    name = models.CharField(max_length=200, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        constraints = [models.UniqueConstraint(fields=["group", "url"], name="qstash_endpoint_unique")]

    def __str__(self) -> str:
        return self.name or self.url


class FlowControlKey(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="flow_control_keys")
    key = models.CharField(max_length=200)
    parallelism_max = models.PositiveIntegerField(null=True, blank=True)
    rate_max = models.PositiveIntegerField(null=True, blank=True)
    rate_period = models.PositiveIntegerField(default=1)  # seconds
    # Unix times (float seconds) of the sends inside the current rate window, logged by workers
    # right before each request: a sliding log, so no window of ``rate_period`` seconds ever
    # holds more than ``rate_max`` starts.
    recent_starts = models.JSONField(default=list, blank=True)
    # The same kind of log for claims, the dispatcher's coarse filter; kept apart from the send
    # log so that one delivery is never counted twice (which would halve the rate).
    recent_claims = models.JSONField(default=list, blank=True)
    # [message id, claim token] of the messages claimed when the rate window was last reset:
    # their sends belong to the window that was reset, so they neither wait for nor take a
    # slot of the new one (one entry is dropped as its message takes its turn).
    claimed_before_reset = models.JSONField(default=list, blank=True)
    paused = models.BooleanField(default=False)
    pinned_parallelism = models.BooleanField(default=False)
    pinned_rate = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "flow-control key"
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="qstash_fc_unique")]

    def __str__(self) -> str:
        return self.key


class DeduplicationRecord(models.Model):
    """A unique row per (tenant, key): the database, not a read-then-write, decides the race."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=64)
    message_id = models.CharField(max_length=80)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "key"], name="qstash_dedup_unique")]

    def __str__(self) -> str:
        return self.key
