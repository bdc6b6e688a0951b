"""Worker hot path on claimed rows (id + claim token), with SQL built once instead of per call."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from functools import lru_cache

from django.db import connections, router

from .bulk_insert import fast_cursor
from .claiming import WorkItem, lease_until
from .models import Message, SigningKeyPair

ACTIVE = Message.Status.ACTIVE.value
# Compiling these through the ORM cost more CPU per batch than the database spent on them.


def _connection():
    return connections[router.db_for_write(Message)]


@lru_cache(maxsize=None)
def _names(vendor: str) -> dict[str, str]:
    quote = _connection().ops.quote_name
    return {"message": quote(Message._meta.db_table),
            "keys": quote(SigningKeyPair._meta.db_table)}


def _placeholders(count: int) -> str:
    return ", ".join(["%s"] * count)


def load_owned(items: list[WorkItem]) -> list[Message]:
    """The messages this batch still owns (ACTIVE with the claim token it was handed), each
    with ``signing_key``: its tenant's current key, or None if the tenant has none yet."""
    if not items:
        return []
    tokens = dict(items)
    names = _names(_connection().vendor)
    sql = (f"SELECT m.*, k.current AS signing_key FROM {names['message']} m "
           f"LEFT JOIN {names['keys']} k ON k.tenant_id = m.tenant_id "
           f"WHERE m.id IN ({_placeholders(len(tokens))}) AND m.status = %s")
    messages = Message.objects.raw(sql, [*tokens, ACTIVE])
    return [m for m in messages if m.claim_token == tokens[m.id]]


def _by_token(messages: list[Message]) -> dict[int, list[Message]]:
    groups: dict[int, list[Message]] = defaultdict(list)
    for message in messages:
        groups[message.claim_token].append(message)
    return groups


def renew_leases(messages: list[Message], now: datetime) -> None:
    """A worker has started these: from now on a lapse means the worker died."""
    connection = _connection()
    groups: dict[tuple[datetime, int], list[str]] = defaultdict(list)
    for message in messages:
        groups[(lease_until(message, now, started=True), message.claim_token)].append(message.id)
    with fast_cursor(connection) as cursor:
        for (lease, token), ids in groups.items():
            cursor.execute(
                f"UPDATE {_names(connection.vendor)['message']} SET lease_expires_at = %s "
                f"WHERE id IN ({_placeholders(len(ids))}) AND status = %s AND claim_token = %s",
                [connection.ops.adapt_datetimefield_value(lease), *ids, ACTIVE, token])


def finish_owned(messages: list[Message], status: str, now: datetime) -> set[str]:
    """Set ``status`` on the messages still owned; returns the ids that were (row locks
    are held until the transaction ends, as a SELECT ... FOR UPDATE would)."""
    connection = _connection()
    at = connection.ops.adapt_datetimefield_value(now)
    finished: set[str] = set()
    with fast_cursor(connection) as cursor:
        for token, group in _by_token(messages).items():
            ids = sorted(m.id for m in group)  # one lock order for every worker
            cursor.execute(
                f"UPDATE {_names(connection.vendor)['message']} SET status = %s, finished_at = %s, "
                f"lease_expires_at = NULL, updated_at = %s "
                f"WHERE id IN ({_placeholders(len(ids))}) AND status = %s AND claim_token = %s "
                f"RETURNING id",
                [status, at, at, *ids, ACTIVE, token])
            finished.update(row[0] for row in cursor.fetchall())
    return finished
