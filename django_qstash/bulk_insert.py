"""Insert many rows at once with prebuilt SQL: COPY for big sets on PostgreSQL, else executemany."""

from __future__ import annotations

import enum
from collections.abc import Sequence
from functools import lru_cache

from django.db import connections, models, router

# From this many rows on, PostgreSQL COPY beats a pipelined executemany.
COPY_THRESHOLD = 20


def insert_rows(model: type[models.Model], objs: Sequence[models.Model]) -> None:
    """Insert ``objs`` as new rows. Auto-increment primary keys are not read back.

    Django's bulk_create compiles every value into one big INSERT, and psycopg then re-scans
    that SQL for placeholders; both cost more CPU than the database spends storing the rows.
    Here the statement text is built once per model and only the values are converted.
    """
    if not objs:
        return
    alias = router.db_for_write(model)
    connection = connections[alias]
    fields = insert_fields(model)
    rows = [[_db_value(f, obj, connection) for f in fields] for obj in objs]
    with fast_cursor(connection) as cursor:
        if connection.vendor == "postgresql" and len(rows) >= COPY_THRESHOLD:
            with cursor.copy(copy_sql(model, connection.vendor)) as copy:
                for row in rows:
                    copy.write_row(row)
        elif len(rows) == 1:
            cursor.execute(insert_sql(model, connection.vendor), rows[0])
        else:
            cursor.executemany(insert_sql(model, connection.vendor), rows)
    for obj in objs:  # as bulk_create leaves them: saved, so a later save() updates
        obj._state.adding = False
        obj._state.db = alias


def fast_cursor(connection):
    """On PostgreSQL, psycopg's own server-binding cursor on Django's connection (same
    transaction): values travel apart from the SQL and a statement run again is prepared on
    the server. Django's client-binding cursor quotes every value into the SQL text, which
    cost more CPU than anything else on the publish path. Elsewhere, Django's cursor."""
    if connection.vendor != "postgresql":
        return connection.cursor()
    import psycopg

    connection.ensure_connection()
    return psycopg.Cursor(connection.connection)


@lru_cache(maxsize=None)
def insert_fields(model: type[models.Model]) -> tuple[models.Field, ...]:
    return tuple(f for f in model._meta.concrete_fields
                 if not (f.primary_key and isinstance(f, models.AutoField)))


@lru_cache(maxsize=None)
def insert_sql(model: type[models.Model], vendor: str) -> str:
    quote = connections[router.db_for_write(model)].ops.quote_name
    fields = insert_fields(model)
    columns = ", ".join(quote(f.column) for f in fields)
    values = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(model._meta.db_table)} ({columns}) VALUES ({values})"


@lru_cache(maxsize=None)
def copy_sql(model: type[models.Model], vendor: str) -> str:
    quote = connections[router.db_for_write(model)].ops.quote_name
    columns = ", ".join(quote(f.column) for f in insert_fields(model))
    return f"COPY {quote(model._meta.db_table)} ({columns}) FROM STDIN"


def _db_value(field: models.Field, obj: models.Model, connection):
    value = field.get_db_prep_save(field.pre_save(obj, True), connection)
    # Choices enums are str/int subclasses; COPY's dumpers would otherwise see the enum.
    return value.value if isinstance(value, enum.Enum) else value
