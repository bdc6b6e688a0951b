"""One outcome the database refuses to record does not stop the rest of its group."""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_qstash.core import clock
from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.engine.lifecycle import record_outcomes
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Message
from tests.operator.factories import make_message

# Inside the test's transaction, as inside a caller's: on PostgreSQL an error not confined to a
# savepoint would abort it, and every later statement would fail too. The trigger goes with it.
pytestmark = pytest.mark.django_db

ATTEMPTS = DeliveryAttempt._meta.db_table


@pytest.fixture
def tenant():
    return create_tenant("outcomes")


def refuse_attempts_of(message_id: str) -> None:
    """A real database error on one row: a trigger refuses that message's attempt rows."""
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION qstash_refuse_attempt() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.message_id = '{message_id}' THEN RAISE EXCEPTION 'refused row'; "
                "END IF; RETURN NEW; END $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER qstash_refuse_attempt BEFORE INSERT ON {ATTEMPTS} "
                           "FOR EACH ROW EXECUTE FUNCTION qstash_refuse_attempt()")
        else:
            cursor.execute(f"CREATE TRIGGER qstash_refuse_attempt BEFORE INSERT ON {ATTEMPTS} "
                           f"WHEN NEW.message_id = '{message_id}' "
                           "BEGIN SELECT RAISE(ABORT, 'refused row'); END")


def claimed(tenant, count: int, **fields) -> list[Message]:
    return [make_message(tenant, status="active", claim_token=1, **fields)
            for _ in range(count)]


def outcome(status: int) -> DeliveryOutcome:
    return DeliveryOutcome(status=status, headers={"X-Reply": ["ok"]}, body=b"done",
                           error="" if status < 300 else f"destination answered {status}",
                           duration_ms=3)


def statuses(messages: list[Message]) -> list[str]:
    by_id = dict(Message.objects.filter(pk__in=[m.pk for m in messages])
                 .values_list("pk", "status"))
    return [by_id[m.pk] for m in messages]


def test_a_refused_delivery_leaves_the_others_of_its_group_recorded(tenant, caplog):
    messages = claimed(tenant, 4)
    refuse_attempts_of(messages[1].pk)
    started = clock.now()
    with caplog.at_level(logging.ERROR, logger="django_qstash.delivery.worker"):
        record_outcomes([(m, outcome(200), started) for m in messages])
    assert statuses(messages) == ["delivered", "active", "delivered", "delivered"]
    assert DeliveryAttempt.objects.filter(message__in=messages).count() == 3
    assert messages[1].pk in caplog.text  # the one left to its lease is named


def test_a_refused_retry_or_callback_leaves_the_others_recorded(tenant, caplog):
    failing, retrying = claimed(tenant, 2)
    [with_callback] = claimed(tenant, 1, callback="https://example.com/cb")
    plain = claimed(tenant, 2)
    refuse_attempts_of(failing.pk)
    started = clock.now()
    results = [(failing, outcome(500), started), (retrying, outcome(503), started),
               (with_callback, outcome(200), started),
               *[(m, outcome(200), started) for m in plain]]
    with caplog.at_level(logging.ERROR, logger="django_qstash.delivery.worker"):
        record_outcomes(results)
    assert statuses([failing, retrying, with_callback, *plain]) == [
        "active", "pending", "delivered", "delivered", "delivered"]
    assert failing.pk in caplog.text


@pytest.mark.parametrize("count", [1, 40])
def test_plain_deliveries_are_recorded_in_as_many_statements_whatever_their_number(tenant,
                                                                                   count):
    messages = claimed(tenant, count)
    started = clock.now()
    with CaptureQueriesContext(connection) as queries:
        record_outcomes([(m, outcome(200), started) for m in messages])
    assert statuses(messages) == ["delivered"] * count
    # One transaction of a few statements, whatever the group's size.
    assert len(queries) <= 6, [q["sql"][:80] for q in queries]
