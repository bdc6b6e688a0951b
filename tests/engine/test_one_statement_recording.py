"""Successful deliveries recorded in one statement (PostgreSQL) write what the general path writes."""

from __future__ import annotations

import pytest

from django_qstash.core import clock, ids
from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.engine.lifecycle import record_outcomes
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Event, Message
from tests.support.message_fields import message_cases
from tests.support.rows import assert_same_row

pytestmark = pytest.mark.django_db(transaction=True)
TOKEN = 5
CASES = list(message_cases(clock.now()))

OUTCOME = DeliveryOutcome(status=200, headers={"Content-Type": ["text/plain"], "X-A": ["1", "2"]},
                          body=b"ok \x00\xff", error="", duration_ms=12)


AT = clock.now()


def active(tenant, case: str = "required only", token: int = TOKEN) -> Message:
    fields = {**message_cases(AT)[case], "status": Message.Status.ACTIVE,
              "claim_token": token, "lease_expires_at": AT}
    return Message.objects.create(id=ids.message_id(), tenant=tenant, **fields)


@pytest.mark.parametrize("case", CASES)
def test_one_statement_writes_the_rows_the_general_path_writes(case):
    tenant = create_tenant("one-statement")
    fast, general, other_token = active(tenant, case), active(tenant, case), active(
        tenant, case, token=TOKEN + 1)
    started = clock.now()
    record_outcomes([(fast, OUTCOME, started)])
    # Two claim tokens in one batch: the general path (an UPDATE per token, then inserts).
    record_outcomes([(general, OUTCOME, started), (other_token, OUTCOME, started)])
    skip = ("id", "message_id", "updated_at", "finished_at", "time")
    assert_same_row(Message, fast.id, general.id, skip=("id", "updated_at", "finished_at"))
    assert_same_row(DeliveryAttempt, DeliveryAttempt.objects.get(message_id=fast.id).pk,
                    DeliveryAttempt.objects.get(message_id=general.id).pk, skip=skip)
    assert_same_row(Event, Event.objects.get(message_id=fast.id).pk,
                    Event.objects.get(message_id=general.id).pk, skip=skip)
    stored = Message.objects.get(id=fast.id)
    assert (stored.status, stored.lease_expires_at) == ("delivered", None)
    assert stored.finished_at is not None


def test_messages_no_longer_owned_get_no_rows_and_keep_their_state():
    tenant = create_tenant("one-statement-lost")
    kept, lost = active(tenant), active(tenant)
    # Reclaimed meanwhile: another worker holds it under the next token.
    Message.objects.filter(id=lost.id).update(claim_token=TOKEN + 1)
    record_outcomes([(kept, OUTCOME, clock.now()), (lost, OUTCOME, clock.now())])
    assert Message.objects.get(id=kept.id).status == "delivered"
    assert DeliveryAttempt.objects.filter(message_id=kept.id).count() == 1
    assert list(Event.objects.filter(message_id=kept.id).values_list("state", flat=True)) == [
        "DELIVERED"]
    reclaimed = Message.objects.get(id=lost.id)
    assert (reclaimed.status, reclaimed.claim_token) == ("active", TOKEN + 1)
    assert not DeliveryAttempt.objects.filter(message_id=lost.id).exists()
    assert not Event.objects.filter(message_id=lost.id).exists()
