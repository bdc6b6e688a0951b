"""Cron schedules: create or overwrite, pause, fire each due slot once across dispatchers."""

from __future__ import annotations

import json
import logging
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime

from django.db import InterfaceError, OperationalError, connection, transaction

from django_qstash.core import clock, ids
from django_qstash.core.cron import CronError, next_fire, parse
from django_qstash.core.header_names import HOP_HEADERS
from django_qstash.core.request_headers import parse_publish_headers
from django_qstash.engine.publishing import PublishSpec, prepare, publish_specs
from django_qstash.exceptions import ApiError, BadRequest, NotFound
from django_qstash.models import Event, Message, Schedule, Tenant

logger = logging.getLogger("django_qstash.engine.scheduler")

# Rows locked, published and updated per transaction. Small chunks let several dispatchers
# share one slot's work and keep INSERTs small (cheaper per row: 250 beat 1000 in benchmarks/).
CHUNK_SIZE = 250
# Modelled as columns, so not replayed as headers at fire time.
SCHEDULE_ONLY_HEADERS = frozenset({"upstash-cron", "upstash-schedule-id", "upstash-queue-name"})
RESULT_FIELDS = ["last_schedule_time", "next_schedule_time", "last_schedule_states", "last_error"]
IN_PROGRESS, SUCCESS, FAIL = "IN_PROGRESS", "SUCCESS", "FAIL"
STATUS_STATES = {Message.Status.DELIVERED: SUCCESS, Message.Status.FAILED: FAIL,
                 Message.Status.CANCELED: FAIL}
EVENT_STATES = {Event.State.DELIVERED: SUCCESS, Event.State.FAILED: FAIL,
                Event.State.CANCELED: FAIL}
CONNECTION_ERRORS = (OperationalError, InterfaceError)


def stored_pairs(pairs: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]] = ()
                 ) -> list[list[str]]:
    """The request headers a schedule replays at every fire: config, Content-Type and, with
    Upstash-Header-Forward, the end-to-end headers. Never credentials or hop headers."""
    pairs = list(pairs)
    forward_all = any(n.lower() == "upstash-header-forward" and v.strip().lower() == "true"
                      for n, v in [*pairs, *query])
    kept = []
    for name, value in pairs:
        lower = name.lower()
        if lower in SCHEDULE_ONLY_HEADERS or lower.startswith("upstash-telemetry-"):
            continue
        if lower.startswith("upstash-") or lower == "content-type" or (
                forward_all and lower not in HOP_HEADERS):
            kept.append([name, value])
    return kept


def stored_options(pairs: list[list[str]], query: list[tuple[str, str]] = ()) -> dict:
    """What ``Schedule.options`` holds: the pairs replayed at fire time, and their parse for
    the API's JSON (without URL-group defaults, which are applied only when firing)."""
    parsed = parse_publish_headers([tuple(p) for p in pairs], query)
    return {"headers": pairs, "query": [list(p) for p in query], "parsed": parsed.to_dict()}


def create_or_replace(tenant: Tenant, destination: str, body: bytes,
                      header_pairs: Iterable[tuple[str, str]], caller_ip: str = "",
                      query: Iterable[tuple[str, str]] = ()) -> Schedule:
    """Create a schedule, or fully overwrite the one with the same Upstash-Schedule-Id."""
    header_pairs, query = list(header_pairs), [(k, v) for k, v in query]
    options = parse_publish_headers(header_pairs, query)
    if not options.cron:
        raise BadRequest("Upstash-Cron header is required")
    try:
        spec = parse(options.cron)
    except CronError as exc:
        raise BadRequest(f"invalid Upstash-Cron: {exc}") from None
    pairs = stored_pairs(header_pairs, query)
    # Validate exactly what every fire will publish; a bad destination or header fails now.
    checked = prepare(tenant, destination, body, [tuple(p) for p in pairs], query,
                      caller_ip=caller_ip)
    destination = stored_destination(destination, checked)
    now = clock.now()
    fields = dict(
        cron=options.cron, destination=destination, queue_name=options.queue_name or "",
        options=stored_options(pairs, query),
        body=body or None, paused=False, caller_ip=caller_ip, created_at=now,
        last_schedule_time=None, next_schedule_time=next_fire(spec, now),
        last_schedule_states={}, last_error="",
    )
    # update_or_create locks an existing row, so an overwrite waits for a fire in progress.
    schedule, _ = Schedule.objects.update_or_create(
        tenant=tenant, schedule_id=options.schedule_id or ids.schedule_id(), defaults=fields)
    return schedule


def stored_destination(destination: str, checked: PublishSpec) -> str:
    """A URL group's name as given; a URL as it will be dialled."""
    return destination if checked.is_group else checked.targets[0].url


def get(tenant: Tenant, schedule_id: str) -> Schedule:
    schedule = Schedule.objects.filter(tenant=tenant, schedule_id=schedule_id).first()
    if schedule is None:
        raise NotFound(f"schedule {schedule_id} not found")
    return schedule


def delete(tenant: Tenant, schedule_id: str) -> None:
    deleted, _ = Schedule.objects.filter(tenant=tenant, schedule_id=schedule_id).delete()
    if not deleted:
        raise NotFound(f"schedule {schedule_id} not found")


def set_paused(schedule: Schedule, paused: bool) -> Schedule:
    """Idempotent. Resuming starts from the next slot after now: paused slots are not owed."""
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().get(pk=schedule.pk)
        if schedule.paused == paused:
            return schedule
        schedule.paused = paused
        if not paused:
            schedule.next_schedule_time = _next_or_none(schedule, clock.now())
        schedule.save(update_fields=["paused", "next_schedule_time", "updated_at"])
    return schedule


def fire_due(now: datetime | None = None, *, chunk_size: int = CHUNK_SIZE) -> int:
    """Dispatcher tick hook: publish every due, unpaused schedule once; returns how many fired.

    Each chunk locks its rows (SKIP LOCKED, so other dispatchers take other rows), publishes,
    and moves each row's slot past ``now`` in the same transaction: no slot fires twice, and
    a dispatcher that was down fires a missed slot once, not once per missed minute.
    """
    now = now or clock.now()
    fired = 0
    while True:
        count = _fire_chunk(now, chunk_size)
        fired += count
        if count < chunk_size:
            return fired


def _fire_chunk(now: datetime, chunk_size: int) -> int:
    due = Schedule.objects.filter(paused=False, next_schedule_time__lte=now)
    if not due.exists():  # most ticks: one look, not a transaction's three round trips
        return 0
    with transaction.atomic():
        rows = list(due.select_for_update(skip_locked=True, of=("self",))
                    .select_related("tenant").order_by("next_schedule_time")[:chunk_size])
        if not rows:
            return 0
        by_tenant: dict[int, list[Schedule]] = defaultdict(list)
        for schedule in rows:
            by_tenant[schedule.tenant_id].append(schedule)
        for tenant_rows in by_tenant.values():
            _publish(tenant_rows, now)
        next_times: dict[str, datetime | None] = {}  # many schedules share one cron string
        for schedule in rows:
            if schedule.cron not in next_times:
                next_times[schedule.cron] = _next_or_none(schedule, now)
            schedule.next_schedule_time = next_times[schedule.cron]
            if schedule.next_schedule_time is None:
                schedule.last_error = f"invalid cron {schedule.cron!r}; schedule stopped"
        _save_results(rows)
    return len(rows)


def _save_results(rows: list[Schedule]) -> None:
    if connection.vendor != "postgresql":
        Schedule.objects.bulk_update(rows, RESULT_FIELDS, batch_size=200)
        return
    # bulk_update builds a CASE expression per row and field in Python (seconds for 10k
    # rows); one UPDATE joined to parameter arrays writes each row once, in one statement.
    table = connection.ops.quote_name(Schedule._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS s SET last_schedule_time = v.last_time, "
            f"next_schedule_time = v.next_time, last_schedule_states = v.states::jsonb, "
            f"last_error = v.error FROM unnest(%s::bigint[], %s::timestamptz[], "
            f"%s::timestamptz[], %s::text[], %s::text[]) AS v(id, last_time, next_time, states, "
            f"error) WHERE s.id = v.id",
            [[r.pk for r in rows], [r.last_schedule_time for r in rows],
             [r.next_schedule_time for r in rows],
             [json.dumps(r.last_schedule_states) for r in rows], [r.last_error for r in rows]])


def run_now(schedule: Schedule) -> Schedule:
    """Publish one extra message now (admin "run now"); the cron slots are unchanged."""
    with transaction.atomic():
        schedule = Schedule.objects.select_for_update().select_related("tenant").get(
            pk=schedule.pk)
        _publish([schedule], clock.now())
        schedule.save(update_fields=[*RESULT_FIELDS, "updated_at"])
    return schedule


def spec_for(schedule: Schedule) -> PublishSpec:
    """The schedule's message as a publish request, resolved now (URL-group defaults too)."""
    options = schedule.options or {}
    spec = prepare(schedule.tenant, schedule.destination, bytes(schedule.body or b""),
                   [tuple(p) for p in options.get("headers", [])],
                   [tuple(p) for p in options.get("query", [])],
                   schedule_id=schedule.schedule_id, caller_ip=schedule.caller_ip)
    # Set after prepare(): a schedule's Upstash-Delay applies to each message, queued or not.
    spec.queue_name = schedule.queue_name
    return spec


def _publish(schedules: list[Schedule], now: datetime) -> None:
    """Publish one message (set) per schedule of one tenant; record states and errors on rows.

    Runs inside the chunk's transaction, so every publish runs in a savepoint: a schedule the
    database refuses is rolled back alone (on PostgreSQL an error otherwise aborts the whole
    transaction, and the chunk would never advance) and the others still fire.
    """
    specs, owners = [], []
    for schedule in schedules:
        schedule.last_schedule_time = now
        try:
            specs.append(spec_for(schedule))
            owners.append(schedule)
        except ApiError as exc:  # e.g. its URL group was deleted: the schedule still advances
            schedule.last_schedule_states, schedule.last_error = {}, exc.message
        except CONNECTION_ERRORS:
            raise
        except Exception as exc:  # a broken row must not roll back (and block) its whole chunk
            logger.exception("schedule %s could not be prepared", schedule.schedule_id)
            schedule.last_schedule_states, schedule.last_error = {}, f"internal error: {exc}"
    if not specs:
        return
    tenant = schedules[0].tenant
    try:
        with transaction.atomic():
            results: list = publish_specs(tenant, specs)
    except CONNECTION_ERRORS:
        raise  # the database is gone: the chunk rolls back and the next tick tries again
    except Exception as exc:
        if len(specs) == 1:
            logger.exception("schedule %s could not publish", specs[0].schedule_id)
            results = [exc]
        else:
            # One poisoned spec must not stop the others: retry one by one, each in a savepoint.
            logger.exception("publishing %d schedules together failed; retrying one by one",
                             len(specs))
            results = [_publish_one(tenant, spec) for spec in specs]
    for schedule, result in zip(owners, results):
        if isinstance(result, Exception):
            schedule.last_schedule_states = {}
            schedule.last_error = getattr(result, "message", None) or str(result)
            continue
        published = result if isinstance(result, list) else [result]
        schedule.last_schedule_states = {p.message_id: IN_PROGRESS for p in published}
        schedule.last_error = ""


def _publish_one(tenant: Tenant, spec: PublishSpec):
    try:
        with transaction.atomic():
            return publish_specs(tenant, [spec])[0]
    except CONNECTION_ERRORS:
        raise
    except Exception as exc:
        logger.exception("schedule %s could not publish", spec.schedule_id)
        return exc


def _next_or_none(schedule: Schedule, now: datetime) -> datetime | None:
    try:
        return next_fire(schedule.cron, now)
    except CronError:
        return None


def produced_states(schedules: Iterable[Schedule]) -> dict[int, dict[str, str]]:
    """``lastScheduleStates`` per schedule pk, from the produced messages' current states.

    Messages may already be purged after delivery; then their last log event decides.
    """
    schedules = list(schedules)
    wanted = {mid for s in schedules for mid in (s.last_schedule_states or {})}
    states: dict[str, str] = {}
    ordered = sorted(wanted)
    for start in range(0, len(ordered), 2000):  # stay below SQL parameter limits
        batch = ordered[start:start + 2000]
        for message_id, status in Message.objects.filter(id__in=batch).values_list("id", "status"):
            states[message_id] = STATUS_STATES.get(status, IN_PROGRESS)
        missing = [m for m in batch if m not in states]
        if missing:
            for message_id, state in (Event.objects.filter(message_id__in=missing,
                                                           state__in=list(EVENT_STATES))
                                      .values_list("message_id", "state")):
                states[message_id] = EVENT_STATES[state]
    return {s.pk: {mid: states.get(mid, IN_PROGRESS) for mid in (s.last_schedule_states or {})}
            for s in schedules}
