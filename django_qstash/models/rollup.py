"""Per-minute activity and per-hour destination rollups the admin dashboard draws from."""

from __future__ import annotations

from django.db import models

from django_qstash.models.tenancy import Tenant

# Upper bounds (ms) of the latency histogram's buckets, roughly log-spaced; the last is open.
LATENCY_BOUNDS_MS = (10, 25, 50, 100, 250, 500, 1_000, 2_500, 5_000, 10_000, 30_000, 60_000,
                     300_000, 900_000, 3_600_000)
BUCKETS = len(LATENCY_BOUNDS_MS) + 1
# Counters published / delivered / retried / failed / canceled, in the order the page shows them.
COUNTERS = ("published", "delivered", "retried", "failed", "canceled")


def wait_column(bucket: int) -> str:
    return f"wait_{bucket:02}"


def done_column(bucket: int) -> str:
    return f"done_{bucket:02}"


def counter() -> models.PositiveIntegerField:
    # A database default too: a write names only the counters it moves (bulk_insert).
    return models.PositiveIntegerField(default=0, db_default=0)


class ActivityCounts(models.Model):
    """What happened in one period for one tenant, added up by the fold (rollup_fold), off
    the paths that publish and record. Readers sum the rows of a period (``shard``)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, db_index=False,
                               related_name="+")
    shard = models.SmallIntegerField(default=0)
    published = counter()
    delivered = counter()
    retried = counter()
    failed = counter()
    canceled = counter()
    # DLQ entries deleted, retried or expired (entries added are the ``failed`` messages):
    # the DLQ's size at any past time is its size now less what came since plus what left.
    dlq_removed = counter()
    # wait_NN: due -> first attempt; done_NN: publish -> delivered (see LATENCY_BOUNDS_MS).

    class Meta:
        abstract = True


class ActivityMinute(ActivityCounts):
    """Per minute: the last hour and day are drawn from these."""

    # Rows are written as INSERT … ON CONFLICT (these columns) DO UPDATE SET column += new.
    ADDITIVE_KEY = ("tenant_id", "minute", "shard")
    SPREAD_COLUMN = "shard"
    minute = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "minute", "shard"],
                                               name="qstash_activity_minute_key")]
        indexes = [models.Index(fields=["minute"], name="qstash_activity_minute")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.minute:%Y-%m-%d %H:%M}"


class ActivityHour(ActivityCounts):
    """The same sums per hour, folded with the minutes: a week is 168 periods, not 10,080."""

    ADDITIVE_KEY = ("tenant_id", "hour", "shard")
    SPREAD_COLUMN = "shard"
    hour = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "hour", "shard"],
                                               name="qstash_activity_hour_key")]
        indexes = [models.Index(fields=["hour"], name="qstash_activity_hour")]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.hour:%Y-%m-%d %H:00}"


for _model in (ActivityMinute, ActivityHour):
    for _bucket in range(BUCKETS):
        _model.add_to_class(wait_column(_bucket), counter())
    for _bucket in range(BUCKETS):
        _model.add_to_class(done_column(_bucket), counter())


class DestinationHour(models.Model):
    """Attempts to one destination origin (scheme://host:port) in one hour for one tenant."""

    ADDITIVE_KEY = ("tenant_id", "hour", "origin", "shard")
    SPREAD_COLUMN = "shard"
    # Overwritten, not added: the newest write wins.
    LATEST_COLUMNS = ("last_status", "last_at")

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, db_index=False,
                               related_name="+")
    hour = models.DateTimeField()
    origin = models.CharField(max_length=300)
    shard = models.SmallIntegerField(default=0)
    attempts = counter()
    errors = counter()  # attempts that were not delivered
    failed = counter()  # messages that went to the DLQ
    duration_ms = models.BigIntegerField(default=0, db_default=0)  # summed, for the mean
    last_status = models.PositiveIntegerField(null=True, blank=True)
    last_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["tenant", "hour", "origin", "shard"],
                                               name="qstash_destination_hour_key")]
        indexes = [models.Index(fields=["hour"], name="qstash_destination_hour")]

    def __str__(self) -> str:
        return f"{self.origin} {self.hour:%Y-%m-%d %H:00}"


class RollupFold(models.Model):
    """How far events and delivery attempts have been added into the rollups (by id), and
    the newest ids noted at recent times (``marks``: [[iso time, event id, attempt id, and on
    PostgreSQL the database's iso time], …]): those are folded once their writes are surely
    over (rollup_fold.SAFETY_MARGIN). One row; the process holding its
    lock is the only one folding."""

    name = models.CharField(primary_key=True, max_length=40)
    events_folded = models.BigIntegerField(default=0)
    attempts_folded = models.BigIntegerField(default=0)
    marks = models.JSONField(default=list, blank=True)

    def __str__(self) -> str:
        return self.name
