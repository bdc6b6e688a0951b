"""DATABASE_URL as example_project reads it: PostgreSQL connections prepare the inserts every
message runs, unless the URL turns that off (a pooler that cannot keep prepared statements)."""

from __future__ import annotations

import pytest
from django.db import connection

from django_qstash.core import clock, ids
from django_qstash.db.bulk_insert import insert_rows
from django_qstash.db.owned_rows import load_owned
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message
from example_project.database_url import parse_database_url
from tests.support.message_fields import message_cases


def test_postgres_connections_prepare_statements_after_five_runs():
    config = parse_database_url("postgres://user:secret@db.internal:5433/qstash")
    assert config["OPTIONS"] == {"prepare_threshold": 5}
    assert (config["NAME"], config["HOST"], config["PORT"]) == ("qstash", "db.internal", "5433")


@pytest.mark.parametrize("query, expected", [
    ("prepare_threshold=none", None), ("prepare_threshold=1", 1),
    ("prepare_threshold=NONE&sslmode=require", None)])
def test_the_url_sets_or_turns_off_preparing(query, expected):
    options = parse_database_url(f"postgres://db/qstash?{query}")["OPTIONS"]
    assert options["prepare_threshold"] == expected
    if "sslmode" in query:
        assert options["sslmode"] == "require"


def test_a_threshold_that_is_not_a_number_is_refused():
    with pytest.raises(ValueError):
        parse_database_url("postgres://db/qstash?prepare_threshold=often")


def prepared_statements() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_inserts_are_prepared_on_the_server_and_reads_are_planned_each_time():
    """A prepared read or update could keep a plan made while its table was nearly empty."""
    if connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        pytest.skip("this test database's URL turned preparing off")
    tenant = create_tenant("prepared")
    fields = {**message_cases(clock.now())["required only"], "status": Message.Status.ACTIVE,
              "claim_token": 1, "lease_expires_at": clock.now()}
    messages = []
    for _ in range(6):
        message = Message(id=ids.message_id(), tenant=tenant, **fields)
        insert_rows(Message, [message])
        messages.append(message)
        assert [m.id for m in load_owned([(message.id, 1)])] == [message.id]
    prepared = prepared_statements()
    assert any(s.startswith('INSERT INTO "django_qstash_message"') for s in prepared), prepared
    assert not any("signing_key" in statement for statement in prepared), prepared
