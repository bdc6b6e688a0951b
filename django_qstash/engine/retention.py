"""Retention: delete old finished messages, events, DLQ entries, dedup records, task results,
dashboard rollups, ended workflow runs."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.models import (
    ActivityHour,
    ActivityMinute,
    DeduplicationRecord,
    DeliveryAttempt,
    DestinationHour,
    DlqEntry,
    Event,
    Message,
    TaskResultRecord,
    WorkflowRun,
    WorkflowStep,
)

logger = logging.getLogger("django_qstash.engine.retention")
KINDS = ("dlq", "messages", "events", "deduplication", "tasks", "rollups", "workflows")
# The overview draws at most a day from minute rows and a week from hour rows; hour rows are
# small (one per tenant, hour and writer) and kept longer for a look back.
ROLLUP_MINUTES_KEPT = timedelta(days=8)
ROLLUP_HOURS_KEPT = timedelta(days=90)
FINISHED = [Message.Status.DELIVERED, Message.Status.FAILED, Message.Status.CANCELED]


@dataclass
class Policy:
    """Ages in seconds; None keeps that kind forever."""

    messages: int | None
    events: int | None
    dlq: int | None
    batch_size: int

    @classmethod
    def from_settings(cls, **overrides) -> Policy:
        values = {"messages": qstash_settings.MESSAGE_RETENTION_SECONDS,
                  "events": qstash_settings.EVENT_RETENTION_SECONDS,
                  "dlq": qstash_settings.DLQ_RETENTION_SECONDS,
                  "batch_size": qstash_settings.PURGE_BATCH_SIZE}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def cutoff(self, kind: str, now: datetime) -> datetime | None:
        if kind == "deduplication":
            return now  # a record is useless once its window has passed
        if kind == "rollups":
            return now - ROLLUP_MINUTES_KEPT
        # A finished task's result, an ended workflow run live as long as a finished message.
        age = self.messages if kind in ("tasks", "workflows") else getattr(self, kind)
        return None if age is None else now - timedelta(seconds=age)


def delete_messages(ids: list[str]) -> int:
    """Messages with their attempts and DLQ entries, without loading any body."""
    with transaction.atomic():
        DeliveryAttempt.objects.filter(message_id__in=ids).delete()
        remove_entries(DlqEntry.objects.filter(message_id__in=ids))
        return Message.objects.filter(pk__in=ids).only("pk").delete()[0]


def purge_batch(kind: str, cutoff: datetime, size: int) -> tuple[int, bool]:
    """Delete at most ``size`` rows of ``kind`` older than ``cutoff``: (deleted, more left)."""
    if kind == "dlq":
        # An expired DLQ entry takes its failed message along: nothing else points to it.
        ids = list(DlqEntry.objects.filter(created_at__lt=cutoff).order_by()
                   .values_list("message_id", flat=True)[:size])
        return (delete_messages(ids) if ids else 0), len(ids) == size
    if kind == "messages":
        ids = list(Message.objects.filter(finished_at__lt=cutoff, status__in=FINISHED,
                                          dlq_entry__isnull=True)
                   .order_by().values_list("pk", flat=True)[:size])
        return (delete_messages(ids) if ids else 0), len(ids) == size
    if kind == "events":
        # Ids grow with time: walk the oldest rows by primary key and stop at the first young
        # one, so no index on ``time`` is needed and no batch scans the table.
        rows = list(Event.objects.order_by("pk").values_list("pk", "time")[:size])
        old = [pk for pk, time in rows if time < cutoff]
        if old:
            Event.objects.filter(pk__in=old).delete()
        return len(old), len(rows) == size and len(old) == len(rows)
    if kind == "deduplication":
        pks = list(DeduplicationRecord.objects.filter(expires_at__lt=cutoff).order_by()
                   .values_list("pk", flat=True)[:size])
        if pks:
            DeduplicationRecord.objects.filter(pk__in=pks).delete()
        return len(pks), len(pks) == size
    if kind == "tasks":
        pks = list(TaskResultRecord.objects.filter(finished_at__lt=cutoff).order_by()
                   .values_list("pk", flat=True)[:size])
        if pks:
            TaskResultRecord.objects.filter(pk__in=pks).delete()
        return len(pks), len(pks) == size
    if kind == "rollups":
        deleted, more = 0, False
        hours_cutoff = cutoff + ROLLUP_MINUTES_KEPT - ROLLUP_HOURS_KEPT
        for model, field, before in ((ActivityMinute, "minute", cutoff),
                                     (ActivityHour, "hour", hours_cutoff),
                                     (DestinationHour, "hour", hours_cutoff)):
            pks = list(model.objects.filter(**{f"{field}__lt": before}).order_by()
                       .values_list("pk", flat=True)[:size])
            if pks:
                model.objects.filter(pk__in=pks).delete()
            deleted, more = deleted + len(pks), more or len(pks) == size
        return deleted, more
    if kind == "workflows":
        # A failed run stays while its DLQ entry does: resuming it needs its steps.
        in_dlq = DlqEntry.objects.filter(dlq_id=OuterRef("dlq_id"))
        pks = list(WorkflowRun.objects.filter(completed_at__lt=cutoff).exclude(Exists(in_dlq))
                   .order_by().values_list("pk", flat=True)[:size])
        if pks:
            with transaction.atomic():
                WorkflowStep.objects.filter(run_id__in=pks).delete()
                WorkflowRun.objects.filter(pk__in=pks).delete()
        return len(pks), len(pks) == size
    raise ValueError(f"unknown kind {kind!r}")


def purge(policy: Policy, *, now: datetime | None = None, kinds: tuple[str, ...] = KINDS,
          max_batches: int | None = None,
          progress: Callable[[str, int], None] | None = None) -> dict[str, int]:
    """Purge every kind until nothing old is left (or ``max_batches`` per kind)."""
    now = now or clock.now()
    totals = {}
    for kind in kinds:
        cutoff = policy.cutoff(kind, now)
        totals[kind] = 0
        batches, more = 0, cutoff is not None
        while more and (max_batches is None or batches < max_batches):
            deleted, more = purge_batch(kind, cutoff, policy.batch_size)
            totals[kind] += deleted
            batches += 1
            if progress and deleted:
                progress(kind, totals[kind])
    return totals


class PeriodicPurge:
    """A dispatcher tick hook: one batch per kind, at most every ``interval`` seconds, and at
    once again while a kind still has old rows (a backlog drains without long ticks)."""

    def __init__(self, interval: float, policy: Policy | None = None) -> None:
        self.interval = interval
        self.policy = policy
        self.next_run: datetime | None = None

    def __call__(self, now: datetime) -> None:
        if self.next_run is not None and now < self.next_run:
            return
        try:
            totals = purge(self.policy or Policy.from_settings(), now=now, max_batches=1)
        except Exception:  # retention must never stop the dispatcher
            logger.exception("purge failed; trying again in %ss", self.interval)
            totals = {}
        if any(totals.values()):
            logger.info("purged %s", " ".join(f"{k}={v}" for k, v in totals.items()))
        backlog = any(v >= (self.policy or Policy.from_settings()).batch_size
                      for v in totals.values())
        self.next_run = now if backlog else now + timedelta(seconds=self.interval)
