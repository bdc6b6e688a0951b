"""Rollup rows for recorded events and attempts: what one batch of them adds to each period."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import urlsplit

from django_qstash.db.drafts import Draft
from django_qstash.models import ActivityHour, ActivityMinute, DestinationHour
from django_qstash.models.rollup import LATENCY_BOUNDS_MS, done_column, wait_column

COUNTED_STATES = {"CREATED": "published", "DELIVERED": "delivered", "RETRY": "retried",
                  "FAILED": "failed", "CANCELED": "canceled"}


class ActivityDraft(Draft):
    model = ActivityMinute


class HourDraft(Draft):
    model = ActivityHour


class DestinationDraft(Draft):
    model = DestinationHour


class AttemptGroup(NamedTuple):
    """Attempts to one URL of one tenant that started in one minute, with the same latency
    buckets (or, with ``attempts`` 0, latency samples or the latest attempt alone)."""

    tenant_id: int
    url: str
    started: datetime  # the minute
    attempts: int
    errors: int  # of them, not delivered
    duration_ms: int  # summed
    samples: int  # how many count in the histograms below
    wait_bucket: int | None  # first attempts: due -> start
    done_bucket: int | None  # delivered: publish -> delivered
    last_at: datetime | None = None
    last_status: int | None = None


def latency_bucket(milliseconds: float) -> int:
    return bisect_left(LATENCY_BOUNDS_MS, max(milliseconds, 0))


@lru_cache(maxsize=4096)  # a fold sees the same few destinations over and over
def origin(url: str) -> str:
    """``scheme://host[:port]`` of a destination: what the dashboard ranks and links by.
    Credentials in the URL are left out: the dashboard shows origins to every operator."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return ""
    if not host:
        return ""
    host = f"[{host}]" if ":" in host else host
    return f"{parts.scheme}://{host}{f':{port}' if port else ''}"[:300]


def groups(events: Iterable, attempts: Iterable[AttemptGroup] = ()) -> list[tuple[type, list]]:
    """(model, rows) pairs to pass to ``insert_groups``: one row per tenant and minute (and
    per destination and hour), however many events there are. An attempt counts in the
    period it started in."""
    shard = 0  # one process folds at a time: the shards of the old write path stay unused
    activity: dict[tuple[int, datetime], ActivityDraft] = {}
    destinations: dict[tuple[int, datetime, str], DestinationDraft] = {}

    def minute_row(tenant_id: int, at: datetime) -> ActivityDraft:
        minute = at.replace(second=0, microsecond=0)
        row = activity.get((tenant_id, minute))
        if row is None:
            row = activity[(tenant_id, minute)] = ActivityDraft(
                tenant_id=tenant_id, minute=minute, shard=shard)
        return row

    def destination_row(tenant_id: int, at: datetime, url: str) -> DestinationDraft:
        hour = at.replace(minute=0, second=0, microsecond=0)
        key = (tenant_id, hour, origin(url))
        row = destinations.get(key)
        if row is None:
            row = destinations[key] = DestinationDraft(
                tenant_id=tenant_id, hour=hour, origin=key[2], shard=shard)
        return row

    for event in events:
        counter = COUNTED_STATES.get(event.state)
        if counter is None:
            continue
        count = getattr(event, "count", 1)  # events may come counted already
        row = minute_row(event.tenant_id, event.time)
        setattr(row, counter, getattr(row, counter) + count)
        if counter == "failed":
            destination_row(event.tenant_id, event.time, event.url).failed += count
    for group in attempts:
        row = minute_row(group.tenant_id, group.started)
        for column, bucket in ((wait_column, group.wait_bucket), (done_column, group.done_bucket)):
            if bucket is not None and group.samples:
                name = column(bucket)
                setattr(row, name, getattr(row, name) + group.samples)
        if group.attempts or group.last_at is not None:
            destination = destination_row(group.tenant_id, group.started, group.url)
            destination.attempts += group.attempts
            destination.errors += group.errors
            destination.duration_ms += group.duration_ms
            if group.last_at is not None and (destination.last_at is None
                                              or group.last_at >= destination.last_at):
                destination.last_status, destination.last_at = group.last_status, group.last_at
    return [(ActivityMinute, list(activity.values())), (ActivityHour, _hours(activity.values())),
            (DestinationHour, list(destinations.values()))]


def removal_groups(removed: dict[int, int], at: datetime) -> list[tuple[type, list]]:
    """(model, rows) for DLQ entries taken out at ``at``: ``removed`` maps tenant to count."""
    minute = at.replace(second=0, microsecond=0)
    minutes = [ActivityDraft(tenant_id=tenant_id, minute=minute, shard=0, dlq_removed=count)
               for tenant_id, count in sorted(removed.items())]
    return [(ActivityMinute, minutes), (ActivityHour, _hours(minutes))]


def _hours(minutes: Iterable[ActivityDraft]) -> list[HourDraft]:
    """The minute rows summed per tenant and hour (a row per minute row when they are one)."""
    hours: dict[tuple[int, datetime], HourDraft] = {}
    for minute in minutes:
        fields = dict(minute.__dict__)
        hour = fields.pop("minute").replace(minute=0)
        row = hours.get((minute.tenant_id, hour))
        if row is None:
            hours[(minute.tenant_id, hour)] = HourDraft(**fields, hour=hour)
            continue
        for name, value in fields.items():
            if name not in ("tenant_id", "shard", "id"):
                setattr(row, name, getattr(row, name) + value)
    return list(hours.values())
