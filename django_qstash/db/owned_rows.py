"""Raw SQL on claimed rows (id + claim token): the worker's reads, and the test of "still owned"."""

from __future__ import annotations

import json
from functools import lru_cache

from django.db import connections, router

from django_qstash.core.leases import WorkItem
from django_qstash.db.bulk_insert import fast_cursor, table
from django_qstash.models import Message, SigningKeyPair

ACTIVE = Message.Status.ACTIVE.value
# Compiling these through the ORM cost more CPU per batch than the database spent on them.


def connection_for_messages():
    return connections[router.db_for_write(Message)]


_connection = connection_for_messages


def message_table() -> str:
    return _names(_connection().vendor)["message"]


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

    def owned(self, ids: list[str], token: int) -> str:
        """Still owned by the worker handed ``token``: ACTIVE with that claim token. Every
        write to an owned row says it this way (engine.transitions); reads of a batch, whose
        rows may carry different tokens, ask ``is_active`` and compare each row's token."""
        return f"{self.id_in(ids)} AND {self.is_active()} AND claim_token = {self.add(token)}"


def owns(tokens: dict[str, int], message_id: str, row_token: int) -> bool:
    """An ACTIVE row read for a batch is still the batch's when its token is the one handed."""
    return tokens.get(message_id) == row_token


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
    return [m for m in messages if owns(tokens, m.id, m.claim_token)]


def from_inserted(drafts: list) -> list[Message]:
    """The messages this process inserted already claimed (publishing's fast path) that it
    still owns, built from the rows it wrote rather than read back: one narrow read asks what
    could have changed since (still owned, a cancel requested) and the tenant's current
    signing key. Reading every column back cost the database and this process more than
    inserting the row."""
    connection, spec = _connection(), table(Message)
    found = _still_owned({d.id: d.claim_token for d in drafts},
                         "m.cancel_requested, k.current", _names(connection.vendor)["keys"])
    messages = []
    for draft in drafts:
        if draft.id not in found:
            continue
        cancel_requested, key = found[draft.id]
        values = draft.__dict__
        message = Message.from_db(connection.alias, spec.attnames,
                                  [values[name] for name in spec.attnames])
        message.cancel_requested, message.signing_key = bool(cancel_requested), key
        messages.append(message)
    return messages


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


def cancel_flags(messages: list[Message]) -> dict[str, bool]:
    """Of the messages still owned, whether a cancel was requested: one read for them all."""
    found = _still_owned({m.id: m.claim_token for m in messages}, "m.cancel_requested")
    return {message_id: bool(values[0]) for message_id, values in found.items()}


def _still_owned(tokens: dict[str, int], columns: str, keys_table: str = "") -> dict[str, tuple]:
    """``columns`` of each message of ``tokens`` (id -> claim token) still owned, by id: one
    read. With ``keys_table`` the tenant's signing keys are joined in as ``k``."""
    if not tokens:
        return {}
    connection = _connection()
    p = Params(connection.vendor)
    join = f"LEFT JOIN {keys_table} k ON k.tenant_id = m.tenant_id " if keys_table else ""
    with fast_cursor(connection) as cursor:
        cursor.execute(
            f"SELECT m.id, m.claim_token, {columns} FROM {message_table()} m {join}"
            f"WHERE {p.id_in(list(tokens), 'm.id')} AND {p.is_active('m.status')}", p.values)
        rows = cursor.fetchall()
    return {row[0]: row[2:] for row in rows if owns(tokens, row[0], row[1])}
