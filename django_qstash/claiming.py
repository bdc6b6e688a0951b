"""Claiming rows under lock: what a claim locks and loads, and how long its lease lasts."""

from __future__ import annotations

from datetime import datetime, timedelta

from .conf import qstash_settings
from .models import Message

WorkItem = tuple[str, int]  # (message id, claim token)
# Only what claiming and the ACTIVE event need; bodies stay in the database.
CLAIM_FIELDS = ("id", "tenant_id", "kind", "url", "topic_name", "endpoint_name", "queue_name",
                "schedule_id", "flow_control_key", "labels", "label_index", "timeout_seconds",
                "claim_token", "created_at", "not_before")


def lease_until(message: Message, now: datetime, *, started: bool = False) -> datetime:
    """When a claim lapses. Until a worker starts the message, it may wait in the broker's
    queue behind others: that wait gets its own allowance, so a backlog is not taken for
    a crash; the worker renews the lease (``started=True``) when it begins."""
    timeout = message.timeout_seconds or qstash_settings.DEFAULT_TIMEOUT_SECONDS
    seconds = timeout + qstash_settings.LEASE_GRACE_SECONDS
    if not started:
        seconds += qstash_settings.LEASE_PICKUP_SECONDS
    # A message claimed ahead of its time (CLAIM_AHEAD_SECONDS) starts when it is due.
    return starts_at(message, now) + timedelta(seconds=seconds)


def starts_at(message, now: datetime) -> datetime:
    not_before = message.not_before
    return not_before if not_before is not None and not_before > now else now


def locked(queryset):
    """Rows to claim (engine.transitions.claim): those another dispatcher holds are skipped."""
    # SKIP LOCKED lets several dispatchers claim side by side without waiting on each other.
    return queryset.select_for_update(skip_locked=True, of=("self",))
