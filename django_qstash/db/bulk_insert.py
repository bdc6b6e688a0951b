"""Insert new rows with prebuilt SQL: one statement for a few rows, COPY for many on PostgreSQL."""

from __future__ import annotations

import contextlib
import copy
import enum
import functools
import json
import threading
from collections.abc import Sequence
from functools import lru_cache

from django.db import connections, models, router, transaction

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.db.group_commit import GroupCommit

# From this many rows on, PostgreSQL COPY beats one multi-row INSERT.
COPY_THRESHOLD = 20
_MISSING = object()


class Table:
    """How one model's new rows are written: columns, defaults and the few value conversions
    that differ from what the driver does by itself. Django's per-field conversion
    (``get_db_prep_save``) cost more CPU than the database spent storing the rows."""

    def __init__(self, model: type[models.Model]) -> None:
        fields = [f for f in model._meta.concrete_fields
                  if not (f.primary_key and isinstance(f, models.AutoField))]
        self.model = model
        self.attnames = [f.attname for f in fields]
        self.columns = [f.column for f in fields]
        # Callable defaults (dict, list) are called once: values are only read, never changed.
        self.defaults = [f.get_default() if f.has_default() else None for f in fields]
        self.json = [i for i, f in enumerate(fields) if isinstance(f, models.JSONField)]
        self.datetimes = [i for i, f in enumerate(fields) if isinstance(f, models.DateTimeField)]
        self.auto_now = [i for i, f in enumerate(fields) if getattr(f, "auto_now", False)]
        self.auto_now_add = [i for i, f in enumerate(fields) if getattr(f, "auto_now_add", False)]
        self.choices = [i for i, f in enumerate(fields) if f.choices]
        self.table = model._meta.db_table
        self.fields = fields

    def row(self, obj, now, adapt_datetime) -> list:
        """``obj``'s column values: a model instance or any object with the same attributes;
        an attribute it lacks takes the field's default."""
        get = obj.__dict__.get
        values = [get(name, _MISSING) for name in self.attnames]
        for index, value in enumerate(values):
            if value is _MISSING:
                values[index] = getattr(obj, self.attnames[index], self.defaults[index])
        for index in self.auto_now:
            values[index] = now
        for index in self.auto_now_add:
            if values[index] is None:
                values[index] = now
        for index in self.choices:
            if isinstance(values[index], enum.Enum):
                values[index] = values[index].value
        for index in self.json:
            value = values[index]
            if value is None:
                # SQL NULL, as the ORM writes it: a column that takes no null refuses it,
                # rather than store JSON null where the code expects a dict or list.
                continue
            if isinstance(value, (dict, list)) and not value:
                # Most JSON columns hold an empty dict or list: no encoder call for those.
                values[index] = "{}" if isinstance(value, dict) else "[]"
            else:
                values[index] = json.dumps(value)
        if adapt_datetime is not None:
            for index in self.datetimes:
                values[index] = adapt_datetime(values[index])
        return values


@lru_cache(maxsize=None)
def table(model: type[models.Model]) -> Table:
    return Table(model)


def marks(vendor: str, count: int, start: int = 1) -> str:
    """``count`` parameter placeholders: PostgreSQL's own ``$n`` (fast_cursor is a raw cursor:
    psycopg re-parses ``%s`` queries of more than 50 parameters on every call), else ``%s``."""
    if vendor == "postgresql":
        return ", ".join(f"${n}" for n in range(start, start + count))
    return ", ".join(["%s"] * count)


@lru_cache(maxsize=256)
def values_sql(model: type[models.Model], vendor: str, rows: int, start: int = 1,
               used: tuple[int, ...] | None = None) -> str:
    """``INSERT INTO t (cols) VALUES (...), (...)`` for ``rows`` rows, numbering from ``start``;
    ``used``: the indexes of the columns given (the others take their database default)."""
    quote = connections[router.db_for_write(model)].ops.quote_name
    spec = table(model)
    columns = spec.columns if used is None else [spec.columns[i] for i in used]
    width = len(columns)
    values = ", ".join(f"({marks(vendor, width, start + row * width)})" for row in range(rows))
    return (f"INSERT INTO {quote(spec.table)} ({', '.join(quote(c) for c in columns)}) "
            f"VALUES {values}{conflict_sql(model, quote, columns)}")


@lru_cache(maxsize=256)
def insert_kept_sql(model: type[models.Model], rows: int, start: int, key_column: str,
                    kept: str) -> str:
    """PostgreSQL: ``INSERT`` of ``rows`` new rows of ``model`` (placeholders ``$start`` on),
    keeping only those whose ``key_column`` is an ``id`` of the CTE ``kept``: a statement that
    logs what the CTE before it changed, and nothing for the rows it left alone. The values
    are typed (a VALUES list outside INSERT takes no types from the table)."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    spec = table(model)
    types = [field.db_type(connection) for field in spec.fields]
    width = len(types)
    values = ", ".join(
        "(" + ", ".join(f"${start + row * width + i}::{kind}" for i, kind in enumerate(types))
        + ")" for row in range(rows))
    columns = ", ".join(quote(c) for c in spec.columns)
    return (f"INSERT INTO {quote(spec.table)} ({columns}) SELECT * FROM (VALUES {values}) "
            f"AS v ({columns}) WHERE v.{quote(key_column)} IN (SELECT id FROM {kept})")


def row_values(model: type[models.Model], objs: Sequence) -> list:
    """The values of ``objs`` as new rows of ``model``, one flat list (PostgreSQL)."""
    spec, now = table(model), clock.now()
    return [value for obj in objs for value in spec.row(obj, now, None)]


def conflict_sql(model: type[models.Model], quote, columns: Sequence[str]) -> str:
    """For models with ``ADDITIVE_KEY``: a row whose key exists adds its counts to that row's
    (``LATEST_COLUMNS`` are overwritten unless null): counters need no read, no extra trip."""
    key = getattr(model, "ADDITIVE_KEY", None)
    if not key:
        return ""
    name, latest = quote(table(model).table), getattr(model, "LATEST_COLUMNS", ())
    sets = [f"{quote(c)} = COALESCE(EXCLUDED.{quote(c)}, {name}.{quote(c)})" if c in latest
            else f"{quote(c)} = {name}.{quote(c)} + EXCLUDED.{quote(c)}"
            for c in columns if c not in key]
    action = f"DO UPDATE SET {', '.join(sets)}" if sets else "DO NOTHING"
    return f" ON CONFLICT ({', '.join(quote(c) for c in key)}) {action}"


def used_columns(model: type[models.Model], rows: list[list]) -> tuple[int, ...] | None:
    """Additive rows name only their key and the counters some row moves: a publish adds to
    one counter of dozens, and every value sent costs encoding, binding and WAL."""
    if not hasattr(model, "ADDITIVE_KEY"):
        return None
    spec = table(model)
    return tuple(i for i, column in enumerate(spec.columns)
                 if column in model.ADDITIVE_KEY or any(row[i] for row in rows))


def merge_additive(model: type[models.Model], objs: Sequence) -> list:
    """One row per key, counts summed and in key order: a statement may not touch a row twice,
    and writers that lock rows in the same order cannot deadlock."""
    key, latest = model.ADDITIVE_KEY, getattr(model, "LATEST_COLUMNS", ())
    # Rows spread over shards so that concurrent transactions do not wait on one row lock;
    # within one statement (one transaction) they need not: one row per key is enough.
    spread = getattr(model, "SPREAD_COLUMN", None)
    same = [k for k in key if k != spread]
    merged: dict[tuple, object] = {}
    for obj in objs:
        values = obj.__dict__
        found = merged.get(ident := tuple(values[k] for k in same))
        if found is None:  # a copy: a batch written again row by row must not see the sums
            merged[ident] = copy.copy(obj)
            continue
        into = found.__dict__
        for name, value in values.items():
            if name in latest:
                into[name] = value if value is not None else into.get(name)
            elif name not in key and isinstance(value, int) and not isinstance(value, bool):
                into[name] = into.get(name, 0) + value
    return [merged[ident] for ident in sorted(merged, key=lambda k: tuple(map(str, k)))]


@lru_cache(maxsize=None)
def copy_sql(model: type[models.Model], vendor: str) -> str:
    quote = connections[router.db_for_write(model)].ops.quote_name
    spec = table(model)
    return f"COPY {quote(spec.table)} ({', '.join(quote(c) for c in spec.columns)}) FROM STDIN"


def insert_rows(model: type[models.Model], objs: Sequence) -> None:
    """Insert ``objs`` as new rows of ``model``. Auto-increment primary keys are not read back."""
    insert_groups([(model, objs)])


def insert_groups(groups: Sequence[tuple[type[models.Model], Sequence]]) -> None:
    """Insert several models' new rows, atomically. A few rows on PostgreSQL go in ONE
    statement (data-modifying CTEs): outside a transaction that is one round trip, commit
    included. Many rows stream through COPY inside a transaction. Outside a transaction,
    concurrent callers in this process share the statement and the commit (group_commit)."""
    groups = [(model, objs) for model, objs in groups if objs]
    if not groups:
        return
    alias = router.db_for_write(groups[0][0])
    if connections[alias].in_atomic_block or not qstash_settings.GROUP_COMMIT:
        _write(groups)
    else:
        _group_commit(alias).submit(groups)


_committers: dict[str, GroupCommit] = {}
_committers_lock = threading.Lock()


def _group_commit(alias: str) -> GroupCommit:
    committer = _committers.get(alias)
    if committer is None:
        with _committers_lock:
            committer = _committers.setdefault(alias, GroupCommit(_write))
    return committer


def forget_writers() -> None:
    """In a forked child (the process runtime calls it): the parent's writers may have been
    mid-write, their locks held by threads that do not exist here."""
    global _committers_lock
    _committers.clear()
    _committers_lock = threading.Lock()


def _write(groups) -> None:
    groups = [(model, merge_additive(model, objs) if hasattr(model, "ADDITIVE_KEY") else objs)
              for model, objs in groups]
    alias = router.db_for_write(groups[0][0])
    connection = connections[alias]
    vendor = connection.vendor
    now = clock.now()
    adapt = None if vendor == "postgresql" else connection.ops.adapt_datetimefield_value
    rows = []
    for model, objs in groups:
        model_rows = [table(model).row(obj, now, adapt) for obj in objs]
        used = used_columns(model, model_rows)
        if used is not None:
            model_rows = [[row[i] for i in used] for row in model_rows]
        rows.append((model, model_rows, used))
    total = sum(len(r) for _, r, _ in rows)
    if vendor == "postgresql" and total < COPY_THRESHOLD:
        sql, params = _one_statement(rows, vendor)
        with fast_cursor(connection, prepared=True) as cursor:
            cursor.execute(sql, params)
    else:
        with (transaction.atomic(using=alias, savepoint=False),
              fast_cursor(connection, prepared=True) as cursor):
            for model, model_rows, used in rows:
                _write_many(cursor, model, model_rows, vendor, used)
    for _, objs in groups:
        for obj in objs:
            state = getattr(obj, "_state", None)
            if state is not None:  # as bulk_create leaves them: saved, so a later save() updates
                state.adding, state.db = False, alias


def _one_statement(rows, vendor: str) -> tuple[str, list]:
    parts, params = [], []
    for model, model_rows, used in rows:
        parts.append(values_sql(model, vendor, len(model_rows), len(params) + 1, used))
        for row in model_rows:
            params.extend(row)
    *first, last = parts
    ctes = ", ".join(f"q{index} AS ({part})" for index, part in enumerate(first))
    return (f"WITH {ctes} {last}" if ctes else last), params


def _write_many(cursor, model, rows: list[list], vendor: str,
                used: tuple[int, ...] | None = None) -> None:
    if vendor == "postgresql" and len(rows) >= COPY_THRESHOLD and used is None:
        with cursor.copy(copy_sql(model, vendor)) as copy:
            for row in rows:
                copy.write_row(row)
    elif vendor == "postgresql":
        cursor.execute(values_sql(model, vendor, len(rows), 1, used),
                       [v for row in rows for v in row])
    else:
        cursor.executemany(values_sql(model, vendor, 1, 1, used), rows)


@contextlib.contextmanager
def fast_cursor(connection, *, prepared: bool = False):
    """On PostgreSQL, a psycopg raw cursor on Django's connection (same transaction): ``$n``
    placeholders, values sent apart from the SQL. Django's client-binding cursor quotes every
    value into the SQL text, which cost more CPU than anything else on the publish path.
    Elsewhere, Django's cursor (``%s``). Errors come out as Django's database errors either
    way, and mark the connection alike.

    ``prepared``: the statements may be prepared on the server, once run ``prepare_threshold``
    times on the connection (when its OPTIONS set one; Django leaves it unset). Only for
    statements whose plan cannot depend on the data (``INSERT ... VALUES``): parsing and
    planning them cost PostgreSQL more than running them. Reads and updates are planned each
    time: the plan PostgreSQL keeps for a prepared statement can be one made while the table
    was nearly empty (a fresh database, before autovacuum first analyzes it), and a scan of
    the whole table then stays in use long after it grew."""
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            yield cursor
        return
    connection.ensure_connection()
    with connection.wrap_database_errors, _cursor_class()(connection.connection) as cursor:
        cursor.auto_prepare = None if prepared else False
        yield cursor


@functools.cache
def _cursor_class():
    import psycopg  # PostgreSQL only: SQLite projects need not install it

    class FastCursor(psycopg.RawCursor):
        """A raw cursor whose statements are prepared only where ``fast_cursor`` allows it."""

        auto_prepare: bool | None = False  # psycopg's ``prepare``: None follows the threshold

        def execute(self, query, params=None, *, prepare=None, binary=None):
            if prepare is None:
                prepare = self.auto_prepare
            return super().execute(query, params, prepare=prepare, binary=binary)

    return FastCursor
