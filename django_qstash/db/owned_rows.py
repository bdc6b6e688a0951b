"""Worker hot path on claimed rows (id + claim token), with SQL built once instead of per call."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import datetime
from functools import lru_cache

from django.db import connections, router

from django_qstash.core.leases import WorkItem, lease_until
from django_qstash.db.bulk_insert import fast_cursor, table
from django_qstash.models import Message, SigningKeyPair

ACTIVE = Message.Status.ACTIVE.value
# Compiling these through the ORM cost more CPU per batch than the database spent on them.


def _connection():
    return connections[router.db_for_write(Message)]


@lru_cache(maxsize=None)
def _names(vendor: str) -> dict[str, str]:
    quote = _connection().ops.quote_name
    return {"message": quote(Message._meta.db_table),
            "keys": quote(SigningKeyPair._meta.db_table)}


class Params:
    """Values of one statement, each added where its placeholder goes: ``$1, $2 …`` for
    fast_cursor on PostgreSQL, ``%s`` elsewhere and for Django's cursor (``native=False``)."""

    def __init__(self, vendor: str, native: bool = True) -> None:
        self.vendor, self.values = vendor, []
        self.numbered = native and vendor == "postgresql"

    def add(self, value) -> str:
        self.values.append(value)
        return f"${len(self.values)}" if self.numbered else "%s"

    def id_in(self, ids: list[str], column: str = "id") -> str:
        """``column`` is one of ``ids``: one array value on PostgreSQL, so the statement text
        (and its prepared plan) is the same for every batch size."""
        if self.vendor == "postgresql":
            return f"{column} = ANY({self.add(list(ids))})"
        return f"{column} IN ({', '.join(self.add(i) for i in ids)})"

    def is_active(self, column: str = "status") -> str:
        # An expression, not the bare column: with the bare column the planner may combine
        # the dispatcher's partial index of active rows with the id lookup and read every
        # in-flight row to touch a few (0.5 ms per statement once a backlog builds up).
        return f"({column} || '') = {self.add(ACTIVE)}"


def load_owned(items: list[WorkItem]) -> list[Message]:
    """The messages this batch still owns (ACTIVE with the claim token it was handed), each
    with ``signing_key``: its tenant's current key, or None if the tenant has none yet."""
    if not items:
        return []
    tokens = dict(items)
    connection = _connection()
    names = _names(connection.vendor)
    fast = connection.vendor == "postgresql"
    params = Params(connection.vendor, native=fast)
    spec = table(Message)
    columns = ", ".join(f"m.{connection.ops.quote_name(c)}" for c in spec.columns)
    sql = (f"SELECT {columns}, k.current AS signing_key FROM {names['message']} m "
           f"LEFT JOIN {names['keys']} k ON k.tenant_id = m.tenant_id "
           f"WHERE {params.id_in(list(tokens), 'm.id')} AND {params.is_active('m.status')}")
    if fast:
        messages = _from_rows(connection, sql, params.values)
    else:  # raw() applies the backend's converters (SQLite stores datetimes and JSON as text)
        messages = list(Message.objects.raw(sql, params.values))
    return [m for m in messages if m.claim_token == tokens[m.id]]


def _from_rows(connection, sql: str, values: list) -> list[Message]:
    """Model instances straight from a raw cursor. On PostgreSQL only JSON needs decoding
    (Django has psycopg hand jsonb over as text); building them through raw() looked up
    every column's converters on every call, which cost more than the query."""
    spec = table(Message)  # the same columns, in the same order, as the SELECT
    with fast_cursor(connection) as cursor:
        cursor.execute(sql, values)
        rows = cursor.fetchall()
    messages = []
    for row in rows:
        row = list(row)
        key = row.pop()
        for index in spec.json:
            if isinstance(row[index], str):
                row[index] = json.loads(row[index])
        message = Message.from_db(connection.alias, spec.attnames, row)
        message.signing_key = key
        messages.append(message)
    return messages


def _by_token(messages: list[Message]) -> dict[int, list[Message]]:
    groups: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        groups[message.claim_token].append(message)
    return groups


def extend_leases(messages: list[Message], now: datetime) -> None:
    """A worker has started these: a lease that would lapse before the attempt can end (the
    message waited long for a worker) is extended to cover it. The others keep the lease of
    their claim, whose pickup allowance is not used up: writing a shorter one would make a
    crashed worker's messages come back sooner, at the price of a write per message."""
    connection = _connection()
    groups: dict[tuple[datetime, int], list[str]] = defaultdict(list)
    for message in messages:
        needed = lease_until(message, now, started=True)
        if message.lease_expires_at is None or message.lease_expires_at < needed:
            groups[(needed, message.claim_token)].append(message.id)
    vendor = connection.vendor
    with fast_cursor(connection) as cursor:
        for (lease, token), ids in groups.items():
            p = Params(vendor)
            cursor.execute(
                f"UPDATE {_names(vendor)['message']} "
                f"SET lease_expires_at = {p.add(connection.ops.adapt_datetimefield_value(lease))} "
                f"WHERE {p.id_in(ids)} AND {p.is_active()} "
                f"AND claim_token = {p.add(token)}", p.values)


def finish_owned(messages: list[Message], status: str, now: datetime) -> set[str]:
    """Set ``status`` on the messages still owned; returns the ids that were (row locks
    are held until the transaction ends, as a SELECT ... FOR UPDATE would)."""
    connection = _connection()
    at = connection.ops.adapt_datetimefield_value(now)
    finished: set[str] = set()
    vendor = connection.vendor
    with fast_cursor(connection) as cursor:
        for token, group in _by_token(messages).items():
            ids = sorted(m.id for m in group)  # one lock order for every worker
            p = Params(vendor)
            cursor.execute(
                f"UPDATE {_names(vendor)['message']} SET status = {p.add(status)}, "
                f"finished_at = {p.add(at)}, lease_expires_at = NULL, updated_at = {p.add(at)} "
                f"WHERE {p.id_in(ids)} AND {p.is_active()} "
                f"AND claim_token = {p.add(token)} RETURNING id", p.values)
            finished.update(row[0] for row in cursor.fetchall())
    return finished


def cancel_flags(messages: list[Message]) -> dict[str, bool]:
    """Of the messages still owned, whether a cancel was requested: one read for them all."""
    if not messages:
        return {}
    tokens = {m.id: m.claim_token for m in messages}
    connection = _connection()
    vendor = connection.vendor
    p = Params(vendor)
    with fast_cursor(connection) as cursor:
        cursor.execute(
            f"SELECT id, claim_token, cancel_requested FROM {_names(vendor)['message']} "
            f"WHERE {p.id_in(list(tokens))} AND {p.is_active()}", p.values)
        rows = cursor.fetchall()
    return {row[0]: bool(row[2]) for row in rows if tokens.get(row[0]) == row[1]}
