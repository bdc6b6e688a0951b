"""What a claim hands out (message id + claim token) and when its lease lapses."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from django_qstash.conf import qstash_settings

WorkItem = tuple[str, int]  # (message id, claim token)


class Leased(Protocol):
    timeout_seconds: int | None
    not_before: datetime | None


def lease_until(message: Leased, now: datetime, *, started: bool = False) -> datetime:
    """When a claim lapses. Until a worker starts the message, it may wait in the broker's
    queue behind others: that wait gets its own allowance, so a backlog is not taken for
    a crash; the worker renews the lease (``started=True``) when it begins."""
    timeout = message.timeout_seconds or qstash_settings.DEFAULT_TIMEOUT_SECONDS
    seconds = timeout + qstash_settings.LEASE_GRACE_SECONDS
    if not started:
        seconds += qstash_settings.LEASE_PICKUP_SECONDS
    # A message claimed ahead of its time (CLAIM_AHEAD_SECONDS) starts when it is due.
    return starts_at(message, now) + timedelta(seconds=seconds)


def starts_at(message: Leased, now: datetime) -> datetime:
    not_before = message.not_before
    return not_before if not_before is not None and not_before > now else now
