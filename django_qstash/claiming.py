"""Claiming rows under lock: the one place that turns PENDING messages into leased work items."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from . import observability
from .bulk_insert import insert_rows
from .conf import qstash_settings
from .events import event_for
from .models import Event, Message

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
    # SKIP LOCKED lets several dispatchers claim side by side without waiting on each other.
    return queryset.select_for_update(skip_locked=True, of=("self",))


def claim(messages: list[Message], now: datetime) -> list[WorkItem]:
    """Mark rows ACTIVE with a fresh claim token and lease; the caller holds their row locks."""
    by_lease: dict[tuple[datetime, int], list[str]] = defaultdict(list)
    events = []
    for message in messages:
        message.claim_token += 1
        by_lease[(lease_until(message, now), message.claim_token)].append(message.id)
        events.append(event_for(message, Event.State.ACTIVE, starts_at(message, now)))
    for (lease, token), message_ids in by_lease.items():
        Message.objects.filter(id__in=message_ids).update(
            status=Message.Status.ACTIVE, lease_expires_at=lease, claim_token=token)
    insert_rows(Event, events)
    observability.record(events)
    return [(m.id, m.claim_token) for m in messages]
