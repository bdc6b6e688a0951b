"""Read rows back two ways, as stored (every column, plain cursor) and through the ORM, to compare."""

from __future__ import annotations

from django.db import connection, models

# Set by the database at write time, so never equal between two writes.
WRITE_TIME = ("updated_at",)


def _plain(value):
    # Drivers hand binary columns back as memoryview or bytes depending on the backend.
    return bytes(value) if isinstance(value, (memoryview, bytearray)) else value


def stored_columns(model: type[models.Model], pk, skip=("id", *WRITE_TIME)) -> dict:
    """Every column of one row as the database returns it, bypassing the ORM's converters."""
    quote = connection.ops.quote_name
    fields = [f for f in model._meta.concrete_fields if f.attname not in skip]
    columns = ", ".join(quote(f.column) for f in fields)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {columns} FROM {quote(model._meta.db_table)} "
                       f"WHERE {quote(model._meta.pk.column)} = %s", [pk])
        [row] = cursor.fetchall()
    return {f.column: _plain(value) for f, value in zip(fields, row)}


def field_values(instance: models.Model, skip=("id", *WRITE_TIME)) -> dict:
    """Every concrete field of a model instance, as the code using it would see it."""
    return {f.attname: _plain(getattr(instance, f.attname))
            for f in type(instance)._meta.concrete_fields if f.attname not in skip}


def assert_same_row(model: type[models.Model], fast_pk, orm_pk, skip=("id", *WRITE_TIME)) -> None:
    """The two rows agree in every column, as stored and as loaded through the ORM."""
    _assert_equal(stored_columns(model, fast_pk, skip), stored_columns(model, orm_pk, skip))
    manager = model._base_manager
    _assert_equal(field_values(manager.get(pk=fast_pk), skip),
                  field_values(manager.get(pk=orm_pk), skip))


def _assert_equal(fast: dict, orm: dict) -> None:
    differences = {name: (fast[name], orm[name]) for name in fast if fast[name] != orm[name]}
    assert not differences, f"fast path vs ORM: {differences}"
