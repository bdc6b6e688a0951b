"""Claiming rows under lock: the one place that turns PENDING messages into leased work items."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from django_qstash.core.leases import WorkItem, lease_until, starts_at
from django_qstash.db.bulk_insert import insert_rows
from django_qstash.engine import observability
from django_qstash.engine.event_log import event_for
from django_qstash.models import Event, Message

# Only what claiming and the ACTIVE event need; bodies stay in the database.
CLAIM_FIELDS = ("id", "tenant_id", "kind", "url", "topic_name", "endpoint_name", "queue_name",
                "schedule_id", "flow_control_key", "labels", "label_index", "timeout_seconds",
                "claim_token", "created_at", "not_before")


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
