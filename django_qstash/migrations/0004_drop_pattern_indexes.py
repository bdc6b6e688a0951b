"""Drop the LIKE-pattern indexes PostgreSQL got for message ids: only exact lookups use them.

Django adds a ``varchar_pattern_ops`` twin to every indexed CharField on PostgreSQL, for
``startswith``/``contains``. Message ids are only ever matched exactly, and each of these
indexes is written on every insert of the busiest tables.
"""

from django.db import migrations

TABLES = ("django_qstash_message", "django_qstash_event", "django_qstash_deliveryattempt")


def drop(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    with schema_editor.connection.cursor() as cursor:
        cursor.execute(
            "SELECT indexname FROM pg_indexes WHERE schemaname = current_schema() AND "
            "tablename = ANY(%s) AND indexdef LIKE '%%varchar_pattern_ops%%'", [list(TABLES)])
        for (name,) in cursor.fetchall():
            cursor.execute(f'DROP INDEX IF EXISTS "{name}"')


class Migration(migrations.Migration):
    dependencies = [("django_qstash", "0003_flowcontrolkey_recent_claims")]
    operations = [migrations.RunPython(drop, migrations.RunPython.noop)]
