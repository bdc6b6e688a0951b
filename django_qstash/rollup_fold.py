"""Folding recorded events and delivery attempts into the dashboard's rollups, off the write path."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta
from typing import NamedTuple

from django.db import transaction
from django.db.models import Max, Min

from . import clock
from .bulk_insert import insert_groups
from .models import DeliveryAttempt, Event, RollupFold
from .rollups import COUNTED_STATES, AttemptFacts, groups

logger = logging.getLogger("django_qstash.rollups")
STATE = "activity"
# Ids are handed out when a row is inserted and become visible when its transaction commits.
# Publishes and outcomes commit within about a second of taking theirs (group commit and the
# recorder hold a write for at most ~1 s), so once this long has passed since the newest id
# was seen, every row up to it has been committed or rolled back: none can still appear
# below it. The margin is generous so that a slow disk or a long lock wait stays inside it.
SAFETY_MARGIN = timedelta(minutes=2)
# Rows read per fold; a backlog (the first fold of existing history) is caught up over ticks.
BATCH = 20_000
# How often a dispatcher tries to fold; between folds the page reads the rest live.
INTERVAL_SECONDS = 5.0
_last_try = 0.0


class EventFacts(NamedTuple):
    tenant_id: int
    state: str
    time: datetime
    url: str


def fold_due(now: datetime | None = None) -> None:
    """A dispatcher tick hook: fold every few seconds; a failure is logged, never raised,
    so that it cannot hold up dispatching."""
    global _last_try
    if time.monotonic() - _last_try < INTERVAL_SECONDS:
        return
    _last_try = time.monotonic()
    try:
        fold(now)
    except Exception:
        logger.exception("folding into the rollups failed; trying again later")


def fold(now: datetime | None = None) -> bool:
    """Add the next settled events and attempts to the rollups; False when another process
    holds the fold (it is doing the same) or nothing has settled yet."""
    now = now or clock.now()
    RollupFold.objects.bulk_create([RollupFold(name=STATE)], ignore_conflicts=True)
    with transaction.atomic():
        state = (RollupFold.objects.select_for_update(skip_locked=True)
                 .filter(name=STATE).first())
        if state is None:
            return False  # another dispatcher is folding
        folded = False
        if state.seen_at is not None and now >= state.seen_at + SAFETY_MARGIN:
            folded = _fold_batch(state)
        if state.events_folded >= state.events_seen and \
                state.attempts_folded >= state.attempts_seen:
            # Everything seen is folded: note the newest ids now, to fold after the margin.
            state.events_seen = Event.objects.aggregate(m=Max("id"))["m"] or 0
            state.attempts_seen = DeliveryAttempt.objects.aggregate(m=Max("id"))["m"] or 0
            state.seen_at = now
        state.save()
    return folded


def _fold_batch(state: RollupFold) -> bool:
    events_to = min(state.events_seen, state.events_folded + BATCH)
    attempts_to = min(state.attempts_seen, state.attempts_folded + BATCH)
    events = event_facts(state.events_folded, events_to)
    attempts = attempt_facts(state.attempts_folded, attempts_to)
    rows = [(model, drafts) for model, drafts in groups(events, attempts) if drafts]
    if rows:
        insert_groups(rows)
    moved = (events_to, attempts_to) != (state.events_folded, state.attempts_folded)
    state.events_folded, state.attempts_folded = events_to, attempts_to
    return moved


def event_facts(after: int, upto: int | None = None) -> list[EventFacts]:
    """The counted events with ids in (after, upto]: a range of the primary key."""
    rows = Event.objects.filter(id__gt=after, state__in=list(COUNTED_STATES)).order_by()
    if upto is not None:
        rows = rows.filter(id__lte=upto)
    return [EventFacts(*row) for row in rows.values_list("tenant_id", "state", "time", "url")]


def attempt_facts(after: int, upto: int | None = None) -> list[AttemptFacts]:
    """The delivery attempts with ids in (after, upto], with the timings the latency
    histograms need: due -> first attempt, publish -> delivered."""
    rows = DeliveryAttempt.objects.filter(id__gt=after).order_by("id")
    if upto is not None:
        rows = rows.filter(id__lte=upto)
    rows = list(rows.values_list(
        "message_id", "retried", "started_at", "duration_ms", "response_status",
        "message__tenant_id", "message__url", "message__created_at", "message__not_before",
        "message__retried"))
    # A message retried since its first attempt has a new due time; its first claim (the
    # ACTIVE event written with the due time or later) stands in for the one it replaced.
    moved = {row[0] for row in rows if row[1] == 0 and row[9] > 0}
    first_claims = dict(Event.objects.filter(message_id__in=moved, state=Event.State.ACTIVE)
                        .order_by().values("message_id").annotate(t=Min("time"))
                        .values_list("message_id", "t")) if moved else {}
    facts = []
    for (message_id, retried, started_at, duration_ms, status, tenant_id, url, created_at,
         not_before, retried_now) in rows:
        due = None
        if retried == 0:
            due = not_before if retried_now == 0 else first_claims.get(message_id)
        facts.append(AttemptFacts(tenant_id, url, created_at, due, started_at, duration_ms or 0,
                                  status, status is not None and 200 <= status < 300))
    return facts


def unfolded(tenant_ids: list[int] | None = None) -> list[tuple[type, list]]:
    """What the rollups do not hold yet, as rollup rows: the page adds them to the folded
    ones (ids past the fold's cursors: a few minutes of traffic, read by primary key)."""
    state = RollupFold.objects.filter(name=STATE).first()
    events = event_facts(state.events_folded if state else 0)
    attempts = attempt_facts(state.attempts_folded if state else 0)
    if tenant_ids is not None:
        wanted = set(tenant_ids)
        events = [e for e in events if e.tenant_id in wanted]
        attempts = [a for a in attempts if a.tenant_id in wanted]
    return groups(events, attempts)

