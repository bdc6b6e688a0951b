"""The message state machine: the only code that changes a message's status, lease or claim token.

What counts as a transition: any write of ``status``, ``lease_expires_at`` or ``claim_token``
(and what moves with them: ``finished_at``, ``retried``, ``not_before`` on a retry,
``cancel_requested``) to a message row that exists. Creating a row is not one: a message is
inserted PENDING by publishing, or, on the fast path, already claimed (``claimed_on_insert``
sets those fields on the row before it is inserted, so that spelling lives here too).

    PENDING --claim--> ACTIVE --finish--> DELIVERED | FAILED (DLQ) | CANCELED
       ^                 |  \\--renew / renew_for_send (lease only)
       |--retry_later----|
       |--requeue--------|  (unattempted: paused, or its rate slot is far off)
    PENDING --cancel_waiting--> CANCELED;  ACTIVE --request_cancel--> (flag; finished later)

A worker "still owns" a row while it is ACTIVE with the claim token the worker was handed:
``Params.owned`` (db layer, owned_rows) is that test, and every write here on an owned row
goes through it. The worker's batch writes are raw SQL built once (the ORM's compilation cost
more CPU than the database spent on them); writes off the hot path use the ORM.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime

from django_qstash.core.leases import WorkItem, lease_until, starts_at
from django_qstash.db.bulk_insert import (
    COPY_THRESHOLD,
    fast_cursor,
    insert_kept_sql,
    insert_rows,
    row_values,
)
from django_qstash.db.owned_rows import Params, connection_for_messages, message_table
from django_qstash.engine import observability
from django_qstash.engine.event_log import event_for
from django_qstash.models import Event, Message

Status = Message.Status
# A finished or retried message's row: what recording an outcome may change; the body and
# the rest stay untouched.
RECORDED_FIELDS = ["status", "finished_at", "retried", "not_before", "lease_expires_at",
                   "updated_at"]


# --- Claims ----------------------------------------------------------------------------

def claimed_on_insert(message, now: datetime) -> WorkItem:
    """A row about to be inserted already claimed (publishing's fast path): its first claim."""
    message.status = Status.ACTIVE
    message.claim_token = 1
    message.lease_expires_at = lease_until(message, now)
    return (message.id, 1)


def claim(messages: list[Message], now: datetime) -> list[WorkItem]:
    """PENDING (or lease-expired ACTIVE) rows become ACTIVE with a fresh claim token and lease,
    logged ACTIVE; the caller holds their row locks."""
    by_lease: dict[tuple[datetime, int], list[str]] = defaultdict(list)
    events = []
    for message in messages:
        message.claim_token += 1
        by_lease[(lease_until(message, now), message.claim_token)].append(message.id)
        events.append(event_for(message, Event.State.ACTIVE, starts_at(message, now)))
    for (lease, token), message_ids in by_lease.items():
        Message.objects.filter(id__in=message_ids).update(
            status=Status.ACTIVE, lease_expires_at=lease, claim_token=token)
    insert_rows(Event, events)
    observability.record(events)
    return [(m.id, m.claim_token) for m in messages]


# --- Leases of owned rows ----------------------------------------------------------------

def renew(messages: list[Message], now: datetime) -> None:
    """A worker has started these: a lease that would lapse before the attempt can end (the
    message waited long for a worker) is extended to cover it. The others keep the lease of
    their claim, whose pickup allowance is not used up: writing a shorter one would make a
    crashed worker's messages come back sooner, at the price of a write per message."""
    connection = connection_for_messages()
    groups: dict[tuple[datetime, int], list[str]] = defaultdict(list)
    for message in messages:
        needed = lease_until(message, now, started=True)
        if message.lease_expires_at is None or message.lease_expires_at < needed:
            groups[(needed, message.claim_token)].append(message.id)
    if not groups:  # the usual case: no cursor (building one costs more than this check)
        return
    vendor = connection.vendor
    with fast_cursor(connection) as cursor:
        for (lease, token), ids in groups.items():
            p = Params(vendor)
            cursor.execute(
                f"UPDATE {message_table()} "
                f"SET lease_expires_at = {p.add(connection.ops.adapt_datetimefield_value(lease))} "
                f"WHERE {p.owned(ids, token)}", p.values)


def renew_for_send(message: Message, now: datetime) -> bool:
    """Extend the lease of a message about to be sent (or waiting for its rate slot) to cover
    an attempt starting now; False when it is not owned any more or a cancel was requested."""
    connection = connection_for_messages()
    lease = connection.ops.adapt_datetimefield_value(lease_until(message, now, started=True))
    p = Params(connection.vendor)
    with fast_cursor(connection) as cursor:
        cursor.execute(
            f"UPDATE {message_table()} SET lease_expires_at = {p.add(lease)} "
            f"WHERE {p.owned([message.id], message.claim_token)} "
            f"AND cancel_requested = {p.add(False)}", p.values)
        return cursor.rowcount > 0


def requeue(messages: list[Message], now: datetime, not_before: datetime | None = None) -> None:
    """Owned messages go back to PENDING unattempted, retries untouched (their queue or key
    was paused, or their rate slot is far off): due again at ``not_before`` when given."""
    if not messages:
        return
    connection = connection_for_messages()
    adapt = connection.ops.adapt_datetimefield_value
    with fast_cursor(connection) as cursor:
        for token, ids in _ids_by_token(messages).items():
            p = Params(connection.vendor)  # placeholders are numbered as they are added
            sets = (f"status = {p.add(Status.PENDING.value)}, lease_expires_at = NULL, "
                    f"updated_at = {p.add(adapt(now))}")
            if not_before is not None:
                sets += f", not_before = {p.add(adapt(not_before))}"
            cursor.execute(f"UPDATE {message_table()} SET {sets} WHERE {p.owned(ids, token)}",
                           p.values)


# --- Outcomes of owned rows ----------------------------------------------------------------

def lock_owned(message_id: str, claim_token: int) -> Message | None:
    """The whole row, locked until the transaction ends, if the claim is still this one's."""
    connection = connection_for_messages()
    p = Params(connection.vendor, native=False)
    lock = " FOR UPDATE" if connection.features.has_select_for_update else ""
    sql = f"SELECT * FROM {message_table()} WHERE {p.owned([message_id], claim_token)}{lock}"
    return next(iter(Message.objects.db_manager(connection.alias).raw(sql, p.values)), None)


def finish(message: Message, status: str, now: datetime) -> None:
    """A locked, owned message ends: DELIVERED, FAILED (its DLQ entry is the caller's) or
    CANCELED."""
    message.status = status
    message.finished_at = now
    message.lease_expires_at = None
    message.save(update_fields=RECORDED_FIELDS)


def retry_later(message: Message, at: datetime) -> None:
    """A locked, owned message whose attempt failed waits for its next one, due ``at``."""
    message.retried += 1
    message.status = Status.PENDING
    message.not_before = at
    message.lease_expires_at = None
    message.save(update_fields=RECORDED_FIELDS)


def deliver_owned(messages: list[Message], now: datetime) -> set[str]:
    """The batch path of ``finish(DELIVERED)``: those still owned are DELIVERED; returns their
    ids (row locks are held until the transaction ends, as a SELECT ... FOR UPDATE would)."""
    connection = connection_for_messages()
    at = connection.ops.adapt_datetimefield_value(now)
    finished: set[str] = set()
    with fast_cursor(connection) as cursor:
        for token, ids in _ids_by_token(messages).items():
            p = Params(connection.vendor)
            cursor.execute(
                f"UPDATE {message_table()} SET status = {p.add(Status.DELIVERED.value)}, "
                f"finished_at = {p.add(at)}, lease_expires_at = NULL, updated_at = {p.add(at)} "
                f"WHERE {p.owned(ids, token)} RETURNING id", p.values)
            finished.update(row[0] for row in cursor.fetchall())
    return finished


def deliver_owned_logged(messages: list[Message], now: datetime,
                         logs: Sequence[tuple[type, Sequence, str]]) -> set[str] | None:
    """``deliver_owned`` and the inserts that log it in ONE statement, for PostgreSQL: the
    rows of ``logs`` ((model, new rows, the column naming their message)) are written only
    for the messages still owned. Outside a transaction that is one round trip with its
    own commit instead of five. None when it is not the cheaper way (another database,
    several claim tokens, many rows): the caller takes ``deliver_owned``."""
    connection = connection_for_messages()
    groups = _ids_by_token(messages)
    rows = sum(len(objs) for _, objs, _ in logs)
    # Many rows: the general path's COPY (in a transaction) costs less than one long VALUES.
    if connection.vendor != "postgresql" or len(groups) != 1 or rows >= COPY_THRESHOLD:
        return None
    [(token, ids)] = groups.items()
    p = Params(connection.vendor)
    at = connection.ops.adapt_datetimefield_value(now)
    update = (f"UPDATE {message_table()} SET status = {p.add(Status.DELIVERED.value)}, "
              f"finished_at = {p.add(at)}, lease_expires_at = NULL, updated_at = {p.add(at)} "
              f"WHERE {p.owned(ids, token)} RETURNING id")
    statements = [f"done AS ({update})"]
    for index, (model, rows, column) in enumerate(logs):
        if rows:
            sql = insert_kept_sql(model, len(rows), len(p.values) + 1, column, "done")
            p.values.extend(row_values(model, rows))
            statements.append(f"log{index} AS ({sql})")
    with fast_cursor(connection) as cursor:
        cursor.execute(f"WITH {', '.join(statements)} SELECT id FROM done", p.values)
        return {row[0] for row in cursor.fetchall()}


def _ids_by_token(messages: list[Message]) -> dict[int, list[str]]:
    groups: dict[int, list[str]] = defaultdict(list)
    for message in messages:
        groups[message.claim_token].append(message.id)
    # Sorted: one lock order for every worker.
    return {token: sorted(ids) for token, ids in groups.items()}


# --- Cancels ------------------------------------------------------------------------------

def cancel_waiting(message_ids: list[str], now: datetime) -> None:
    """PENDING messages (locked by the caller) are CANCELED at once."""
    Message.objects.filter(id__in=message_ids).update(
        status=Status.CANCELED, cancel_requested=True, finished_at=now)


def request_cancel(message_ids: list[str]) -> None:
    """ACTIVE messages (locked by the caller) are flagged: their worker finishes them CANCELED
    before sending, or after the attempt in flight."""
    Message.objects.filter(id__in=message_ids).update(cancel_requested=True)
