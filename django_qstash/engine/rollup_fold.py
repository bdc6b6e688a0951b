"""Folding recorded events and delivery attempts into the dashboard's rollups, off the write path."""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from django.db import connection, transaction
from django.db.models import Case, Count, F, FloatField, Func, Max, Min, Q, Sum, Value, When
from django.db.models.functions import TruncMinute
from django.db.models.lookups import LessThanOrEqual

from django_qstash.core import clock
from django_qstash.db.bulk_insert import insert_groups
from django_qstash.engine.rollups import COUNTED_STATES, AttemptGroup, groups, latency_bucket
from django_qstash.models import DeliveryAttempt, Event, RollupFold
from django_qstash.models.rollup import LATENCY_BOUNDS_MS

logger = logging.getLogger("django_qstash.engine.rollups")
STATE = "activity"
# Ids are handed out when a row is inserted and become visible when its transaction commits,
# not necessarily in order: a row may appear below the newest id seen. The fold notes the
# newest ids ("marks") and folds up to a mark only once no row can still appear below it:
# - SQLite writes one transaction at a time: a row still being written takes an id above
#   every committed one, so a mark is final as soon as it is read.
# - PostgreSQL: the mark holds the database's clock read after the ids; a transaction that
#   took an id at or below them began before that, so once no transaction of this database
#   is older than the mark, every row up to it is committed or rolled back (pg_stat_activity
#   keeps a transaction listed until its commit is visible).
# - Otherwise (or when pg_stat_activity hides other users' sessions, or a session idles in a
#   transaction for minutes) a mark is final after this margin: publishes and outcomes
#   commit within about a second of taking their ids; it is generous for a slow disk, a long
#   lock wait or two dispatchers' clocks a little apart.
SAFETY_MARGIN = timedelta(minutes=2)
# Rows read per fold; a backlog (the first fold of existing history) is caught up over ticks.
BATCH = 20_000
ATTEMPT_SLICE = 5_000
# How often a dispatcher tries to fold; between folds the page reads the rest live.
INTERVAL_SECONDS = 5.0
_last_try = 0.0


class EventFacts(NamedTuple):
    """``count`` events of one tenant that entered ``state`` in the minute ``time``."""

    tenant_id: int
    state: str
    time: datetime
    url: str  # only for FAILED: the destinations count failures per origin
    count: int


class EpochMicros(Func):
    """A datetime column as whole microseconds since 1970 (exact: no float rounding), so that
    latencies are bucketed in SQL exactly as ``latency_bucket`` buckets them."""

    output_field = FloatField()
    template = "(EXTRACT(EPOCH FROM %(expressions)s) * 1000000)"

    def as_sqlite(self, compiler, connection, **extra):
        # Stored as 'YYYY-MM-DD HH:MM:SS[.ffffff]': whole seconds, then the microseconds.
        return super().as_sql(
            compiler, connection, **extra,
            template="(CAST(strftime('%%%%s', substr(%(expressions)s, 1, 19)) AS INTEGER) * 1000000"
                     " + CAST(substr(%(expressions)s, 21) AS INTEGER))")


def bucket(microseconds) -> Case:
    """``latency_bucket`` in SQL: the first bound at or above the value (negatives in 0)."""
    return Case(*[When(LessThanOrEqual(microseconds, Value(bound * 1000)), then=Value(index))
                  for index, bound in enumerate(LATENCY_BOUNDS_MS)],
                default=Value(len(LATENCY_BOUNDS_MS)))


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
    """Note the newest ids, and add the events and attempts up to the newest final mark (see
    SAFETY_MARGIN) to the rollups; False when another process holds the fold (it is doing the
    same) or no mark is final yet."""
    now = now or clock.now()
    RollupFold.objects.bulk_create([RollupFold(name=STATE)], ignore_conflicts=True)
    with transaction.atomic():
        state = (RollupFold.objects.select_for_update(skip_locked=True)
                 .filter(name=STATE).first())
        if state is None:
            return False  # another dispatcher is folding
        oldest = oldest_open_transaction()
        settled = [m for m in state.marks if is_final(m, now, oldest)]
        folded = _fold_batch(state, settled[-1][1], settled[-1][2]) if settled else False
        # Marks folded up to are spent; a new one every interval (the page reads live what
        # came after the last final mark: about two intervals while transactions are short).
        marks = [m for m in state.marks
                 if m[1] > state.events_folded or m[2] > state.attempts_folded]
        if not marks or datetime.fromisoformat(marks[-1][0]) + \
                timedelta(seconds=INTERVAL_SECONDS) <= now:
            marks.append(new_mark(now))
        state.marks = marks
        state.save()
    return folded


def new_mark(now: datetime) -> list:
    """[time, newest event id, newest attempt id] (+ the database's clock on PostgreSQL, read
    after the ids: every transaction holding an id up to them began before it)."""
    mark = [now.isoformat(), Event.objects.aggregate(m=Max("id"))["m"] or 0,
            DeliveryAttempt.objects.aggregate(m=Max("id"))["m"] or 0]
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT clock_timestamp()")
            mark.append(cursor.fetchone()[0].isoformat())
    return mark


UNKNOWN = "unknown"


def oldest_open_transaction() -> datetime | str | None:
    """When the oldest transaction of another session of this database began (None: there
    is none; UNKNOWN: not on PostgreSQL, or a session's state is hidden from this user)."""
    if connection.vendor != "postgresql":
        return UNKNOWN
    with connection.cursor() as cursor:
        # A transaction reads the sessions' states once and keeps them: read afresh.
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT min(xact_start) FILTER (WHERE backend_type = 'client backend'),"
            " count(*) FILTER (WHERE query = '<insufficient privilege>')"
            " FROM pg_stat_activity WHERE datname = current_database()"
            " AND pid <> pg_backend_pid()")
        began, hidden = cursor.fetchone()
    return UNKNOWN if hidden else began


def is_final(mark: list, now: datetime, oldest: datetime | str | None) -> bool:
    """Whether no row with an id up to the mark's can still appear (see SAFETY_MARGIN)."""
    if datetime.fromisoformat(mark[0]) + SAFETY_MARGIN <= now or connection.vendor == "sqlite":
        return True
    if oldest == UNKNOWN or len(mark) < 4:
        return False
    return oldest is None or oldest > datetime.fromisoformat(mark[3])


def _fold_batch(state: RollupFold, events_upto: int, attempts_upto: int) -> bool:
    events_to = min(max(events_upto, state.events_folded), state.events_folded + BATCH)
    attempts_to = min(max(attempts_upto, state.attempts_folded),
                      state.attempts_folded + BATCH)
    events = event_facts(state.events_folded, events_to)
    attempts = attempt_facts(state.attempts_folded, attempts_to)
    rows = [(model, drafts) for model, drafts in groups(events, attempts) if drafts]
    if rows:
        insert_groups(rows)
    moved = (events_to, attempts_to) != (state.events_folded, state.attempts_folded)
    state.events_folded, state.attempts_folded = events_to, attempts_to
    return moved


def event_facts(after: int, upto: int | None = None) -> list[EventFacts]:
    """The counted events with ids in (after, upto] (a range of the primary key), counted
    by the database per tenant, minute and state (and destination, for failures)."""
    rows = Event.objects.filter(id__gt=after).order_by()
    if upto is not None:
        rows = rows.filter(id__lte=upto)
    facts = []
    for states, columns in (([s for s in COUNTED_STATES if s != Event.State.FAILED], ()),
                            ([Event.State.FAILED], ("url",))):
        grouped = (rows.filter(state__in=states)
                   .annotate(minute=TruncMinute("time", tzinfo=UTC))  # hours: UTC hours
                   .values("tenant_id", "state", "minute", *columns).annotate(n=Count("id")))
        facts += [EventFacts(row["tenant_id"], row["state"], row["minute"], row.get("url", ""),
                             row["n"]) for row in grouped]
    return facts


def attempt_facts(after: int, upto: int | None = None) -> list[AttemptGroup]:
    """The delivery attempts with ids in (after, upto], counted by the database per tenant,
    URL, minute, status and latency buckets (due -> first attempt, publish -> delivered)."""
    present = DeliveryAttempt.objects.filter(id__gt=after)
    if upto is not None:
        present = present.filter(id__lte=upto)
    bounds = present.aggregate(first=Min("id"), last=Max("id"))
    if bounds["first"] is None:
        return []
    after, upto = bounds["first"] - 1, bounds["last"]
    facts: list[AttemptGroup] = []
    # In slices: a few thousand attempts join their messages by primary key; many more at
    # once and PostgreSQL would rather scan the whole message table.
    for start in range(after, upto, ATTEMPT_SLICE):
        facts += _attempt_slice(DeliveryAttempt.objects.filter(
            id__gt=start, id__lte=min(start + ATTEMPT_SLICE, upto)).order_by())
    return facts


def _attempt_slice(rows) -> list[AttemptGroup]:
    delivered = Q(response_status__gte=200, response_status__lt=300)
    started = EpochMicros("started_at")
    # A message retried since its first attempt has a new due time: see moved_first_waits.
    moved = Q(retried=0, message__retried__gt=0)
    grouped = (rows.annotate(
        minute=TruncMinute("started_at", tzinfo=UTC),
        moved=Case(When(moved, then=Value(1)), default=Value(0)),
        wait_b=Case(When(retried=0, message__retried=0,
                         then=bucket(started - EpochMicros("message__not_before"))),
                    default=None),
        done_b=Case(When(delivered, then=bucket(
            started - EpochMicros("message__created_at") + F("duration_ms") * 1000)),
            default=None))
        .values("message__tenant_id", "message__url", "minute", "response_status", "moved",
                "wait_b", "done_b")
        .annotate(n=Count("id"), duration=Sum("duration_ms"), last_at=Max("started_at"),
                  last_id=Max("id")))
    facts, any_moved = [], False
    # Oldest first: the destinations keep the status of the last one (attempts that started
    # at the same time: the one recorded last).
    for row in sorted(grouped, key=lambda r: (r["last_at"], r["last_id"])):
        status = row["response_status"]
        ok = status is not None and 200 <= status < 300
        facts.append(AttemptGroup(
            row["message__tenant_id"], row["message__url"], row["minute"], row["n"],
            0 if ok else row["n"], row["duration"] or 0, row["n"], row["wait_b"],
            row["done_b"], row["last_at"], status))
        any_moved = any_moved or bool(row["moved"])
    return facts + (moved_first_waits(rows.filter(moved)) if any_moved else [])


def moved_first_waits(rows) -> list[AttemptGroup]:
    """First attempts of messages retried since (their due time has moved): the first claim,
    an ACTIVE event written at the due time or later, stands in for the due time."""
    moved = list(rows.values_list("message_id", "started_at", "message__tenant_id",
                                  "message__url"))
    claims = dict(Event.objects.filter(message_id__in=[m[0] for m in moved],
                                       state=Event.State.ACTIVE)
                  .order_by().values("message_id").annotate(t=Min("time"))
                  .values_list("message_id", "t"))
    return [AttemptGroup(tenant_id, url, started_at.replace(second=0, microsecond=0), 0, 0, 0, 1,
                         latency_bucket((started_at - claims[message_id]).total_seconds() * 1000),
                         None)
            for message_id, started_at, tenant_id, url in moved if message_id in claims]


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

