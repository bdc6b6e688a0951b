"""Rollup rows for recorded events and attempts: what one batch of them adds to each period."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable
from datetime import datetime
from typing import NamedTuple
from urllib.parse import urlsplit

from .drafts import Draft
from .models import ActivityHour, ActivityMinute, DestinationHour
from .models.rollup import LATENCY_BOUNDS_MS, done_column, wait_column

COUNTED_STATES = {"CREATED": "published", "DELIVERED": "delivered", "RETRY": "retried",
                  "FAILED": "failed", "CANCELED": "canceled"}


class ActivityDraft(Draft):
    model = ActivityMinute


class HourDraft(Draft):
    model = ActivityHour


class DestinationDraft(Draft):
    model = DestinationHour


class AttemptFacts(NamedTuple):
    """What the rollups need of one attempt, taken before recording changes the message."""

    tenant_id: int
    url: str
    created_at: datetime | None
    first_due: datetime | None  # the due time when this was the first attempt, else None
    started_at: datetime
    duration_ms: int
    status: int | None
    delivered: bool


def latency_bucket(milliseconds: float) -> int:
    return bisect_left(LATENCY_BOUNDS_MS, max(milliseconds, 0))


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


def groups(events: Iterable, attempts: Iterable[AttemptFacts] = ()) -> list[tuple[type, list]]:
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
        row = minute_row(event.tenant_id, event.time)
        setattr(row, counter, getattr(row, counter) + 1)
        if counter == "failed":
            destination_row(event.tenant_id, event.time, event.url).failed += 1
    for facts in attempts:
        at = facts.started_at
        row = minute_row(facts.tenant_id, at)
        if facts.first_due is not None:
            waited = (facts.started_at - facts.first_due).total_seconds() * 1000
            column = wait_column(latency_bucket(waited))
            setattr(row, column, getattr(row, column) + 1)
        if facts.delivered and facts.created_at is not None:
            took = ((facts.started_at - facts.created_at).total_seconds() * 1000
                    + facts.duration_ms)
            column = done_column(latency_bucket(took))
            setattr(row, column, getattr(row, column) + 1)
        destination = destination_row(facts.tenant_id, at, facts.url)
        destination.attempts += 1
        destination.errors += 0 if facts.delivered else 1
        destination.duration_ms += facts.duration_ms
        destination.last_status, destination.last_at = facts.status, at
    return [(ActivityMinute, list(activity.values())), (ActivityHour, _hours(activity.values())),
            (DestinationHour, list(destinations.values()))]


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
