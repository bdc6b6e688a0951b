"""Flow control: per-key parallelism and rate limits, enforced where the dispatcher claims."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from . import clock
from .claiming import CLAIM_FIELDS, WorkItem, claim, locked
from .models import FlowControlKey, Message

# A start is counted for a little longer than the period: a claim reaches the destination a
# few milliseconds later, and that jitter must not squeeze rate+1 arrivals into one period.
RATE_GUARD_SECONDS = 0.25


def configure_keys(messages: list[Message]) -> None:
    """The newest message's config becomes its key's config, except for pinned parts."""
    newest: dict[tuple[int, str], Message] = {}
    for message in messages:
        if message.flow_control_key and message.kind == Message.Kind.MESSAGE:
            newest[(message.tenant_id, message.flow_control_key)] = message
    for (tenant_id, key), message in newest.items():
        config = {"parallelism_max": message.flow_control_parallelism,
                  "rate_max": message.flow_control_rate,
                  "rate_period": message.flow_control_period or 1}
        row, created = FlowControlKey.objects.get_or_create(tenant_id=tenant_id, key=key,
                                                            defaults=config)
        if created:
            continue
        if row.pinned_parallelism:
            config.pop("parallelism_max")
        if row.pinned_rate:
            config.pop("rate_max")
            config.pop("rate_period")
        if any(getattr(row, name) != value for name, value in config.items()):
            FlowControlKey.objects.filter(pk=row.pk).update(**config)


def starts_in_window(row: FlowControlKey, now: float) -> list[float]:
    horizon = now - row.rate_period - RATE_GUARD_SECONDS
    return [t for t in row.recent_starts if t > horizon]


def claim_flow_controlled(now: datetime, limit: int) -> list[WorkItem]:
    """Per key: start only as many as its parallelism and rate allow; the rest wait in the DB."""
    claimed: list[WorkItem] = []
    waiting = (Message.objects.due(now).filter(queue_name="").exclude(flow_control_key="")
               .order_by().values_list("tenant_id", "flow_control_key").distinct()[:limit])
    for tenant_id, key in list(waiting):
        with transaction.atomic():
            # The key row's lock serialises dispatchers per key; others skip it this tick.
            row = locked(FlowControlKey.objects.filter(tenant_id=tenant_id, key=key)).first()
            if row is None or row.paused:
                continue
            # The tick's ``now`` may be stale by the time the lock is ours; a start must be
            # logged at the moment it is really claimed, or a window would seem older.
            claimed_at = clock.now()
            places = limit
            if row.parallelism_max:
                active = Message.objects.filter(tenant_id=tenant_id, flow_control_key=key,
                                                status=Message.Status.ACTIVE).count()
                places = min(places, row.parallelism_max - active)
            starts = starts_in_window(row, claimed_at.timestamp())
            if row.rate_max:
                places = min(places, row.rate_max - len(starts))
            if places <= 0:
                continue
            rows = list(locked(Message.objects.due(now).filter(
                tenant_id=tenant_id, flow_control_key=key, queue_name="")
                .order_by("not_before", "created_at").only(*CLAIM_FIELDS))[:places])
            claimed += claim(rows, now)
            if row.rate_max and rows:
                row.recent_starts = starts + [claimed_at.timestamp()] * len(rows)
                row.save(update_fields=["recent_starts", "updated_at"])
    return claimed


def key_state(row: FlowControlKey, now: datetime) -> dict:
    """The FlowControlKey JSON of the API."""
    messages = Message.objects.filter(tenant_id=row.tenant_id, flow_control_key=row.key)
    starts = starts_in_window(row, now.timestamp())
    return {
        "flowControlKey": row.key,
        "waitListSize": messages.filter(status=Message.Status.PENDING).count(),
        "parallelismMax": row.parallelism_max or 0,
        "parallelismCount": messages.filter(status=Message.Status.ACTIVE).count(),
        "rateMax": row.rate_max or 0,
        "rateCount": len(starts),
        "ratePeriod": row.rate_period,
        "ratePeriodStart": int(min(starts)) if starts else int(now.timestamp()),
        "isPaused": row.paused,
        "isPinnedParallelism": row.pinned_parallelism,
        "isPinnedRate": row.pinned_rate,
    }
