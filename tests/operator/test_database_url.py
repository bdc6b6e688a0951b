"""DATABASE_URL as example_project reads it: PostgreSQL connections prepare the statements every
message runs, unless the URL turns that off (a pooler that cannot keep prepared statements)."""

from __future__ import annotations

import pytest
from django.db import connection

from django_qstash.core import clock, ids
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


@pytest.mark.django_db
@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_workers_load_of_its_batch_is_prepared_on_the_server():
    if connection.settings_dict["OPTIONS"].get("prepare_threshold") is None:
        pytest.skip("this test database's URL turned preparing off")
    tenant = create_tenant("prepared")
    fields = {**message_cases(clock.now())["required only"], "status": Message.Status.ACTIVE,
              "claim_token": 1, "lease_expires_at": clock.now()}
    message = Message.objects.create(id=ids.message_id(), tenant=tenant, **fields)
    for _ in range(6):
        assert [m.id for m in load_owned([(message.id, 1)])] == [message.id]
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        prepared = [row[0] for row in cursor.fetchall()]
    assert any("signing_key" in statement for statement in prepared), prepared
