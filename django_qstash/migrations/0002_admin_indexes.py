"""Indexes for the admin's big lists, backlog metrics and retention (raw SQL, see below)."""

from django.db import migrations

# (name, table, columns, condition). Raw SQL rather than Meta.indexes so that PostgreSQL can
# build them CONCURRENTLY: a busy message table keeps taking writes while they are built.
INDEXES = [
    # The message list's default order, ORDER BY created_at DESC, id DESC, with no tenant.
    ("qstash_msg_created", "django_qstash_message", "created_at, id", ""),
    # The status filter in that same order.
    ("qstash_msg_status_created", "django_qstash_message", "status, created_at, id", ""),
    # Queue lag and backlog gauges read only live rows: a small index however old the table.
    ("qstash_msg_live", "django_qstash_message", "tenant_id, queue_name, flow_control_key",
     "status IN ('pending', 'active')"),
    # DLQ entries always point at failed messages: the DLQ's queue filter and its per-queue
    # gauge start here instead of joining a million rows.
    ("qstash_msg_failed", "django_qstash_message", "queue_name, tenant_id, id",
     "status = 'failed'"),
    # qstash_purge finds finished messages by age.
    ("qstash_msg_finished_at", "django_qstash_message", "finished_at",
     "finished_at IS NOT NULL"),
]


def create(apps, schema_editor):
    postgres = schema_editor.connection.vendor == "postgresql"
    for name, table, columns, condition in INDEXES:
        where = f" WHERE {condition}" if condition else ""
        concurrently = "CONCURRENTLY " if postgres else ""
        schema_editor.execute(f"CREATE INDEX {concurrently}IF NOT EXISTS {name} "
                              f"ON {table} ({columns}){where}")


def drop(apps, schema_editor):
    concurrently = "CONCURRENTLY " if schema_editor.connection.vendor == "postgresql" else ""
    for name, *_ in INDEXES:
        schema_editor.execute(f"DROP INDEX {concurrently}IF EXISTS {name}")


class Migration(migrations.Migration):
    atomic = False  # CREATE INDEX CONCURRENTLY cannot run inside a transaction

    dependencies = [("django_qstash", "0001_initial")]

    operations = [migrations.RunPython(create, drop, elidable=False)]
