"""Rows written by bulk_insert read back through the ORM exactly as they were given."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, transaction

from django_qstash.core import clock, ids
from django_qstash.db.bulk_insert import COPY_THRESHOLD, insert_groups, insert_rows
from django_qstash.db.drafts import MessageDraft
from django_qstash.engine.event_log import event_for
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Event, Message

pytestmark = pytest.mark.django_db(transaction=True)


def draft(tenant, **fields) -> MessageDraft:
    now = clock.now()
    values = dict(id=ids.message_id(), tenant_id=tenant.pk, url="https://example.com/x?a=1",
                  headers={"Content-Type": ["application/json"], "X-Many": ["1", "ü"]},
                  body=b"\x00\xff binary \x80", labels=["a", "b"], label_index=",a,b,",
                  redact_fields=["body"], max_retries=5, timeout_seconds=7,
                  callback_options={"method": "PUT", "retries": None},
                  status=Message.Status.PENDING, not_before=now + timedelta(seconds=30),
                  created_at=now)
    values.update(fields)
    return MessageDraft(**values)


@pytest.mark.parametrize("count", [1, 3, COPY_THRESHOLD + 5])
def test_messages_and_events_round_trip(count):
    tenant = create_tenant("rows")
    drafts = [draft(tenant) for _ in range(count)]
    events = [event_for(d, Event.State.CREATED, d.created_at) for d in drafts]
    insert_groups([(Message, drafts), (Event, events)])
    stored = {m.id: m for m in Message.objects.filter(tenant=tenant)}
    assert set(stored) == {d.id for d in drafts}
    for d in drafts:
        m = stored[d.id]
        assert (m.headers, bytes(m.body), m.labels, m.redact_fields) == (
            d.headers, d.body, d.labels, d.redact_fields)
        assert (m.not_before, m.created_at, m.status, m.kind) == (
            d.not_before, d.created_at, "pending", "message")
        assert m.callback_options == {"method": "PUT", "retries": None}
        assert m.callback_headers == {} and m.cancel_requested is False
        assert m.updated_at is not None and m.finished_at is None
    logged = Event.objects.filter(tenant=tenant)
    assert sorted(e.message_id for e in logged) == sorted(d.id for d in drafts)
    assert {e.state for e in logged} == {"CREATED"}
    assert all(e.response_headers is None and e.labels == ["a", "b"] for e in logged)


def test_model_instances_and_foreign_keys():
    tenant = create_tenant("rows")
    message = draft(tenant)
    insert_rows(Message, [message])
    attempt = DeliveryAttempt(message_id=message.id, retried=0, started_at=clock.now(),
                              response_status=200, response_headers={"A": ["b"]},
                              response_body=b"ok")
    insert_rows(DeliveryAttempt, [attempt])
    assert attempt._state.adding is False
    [stored] = DeliveryAttempt.objects.filter(message_id=message.id)
    assert (stored.response_headers, bytes(stored.response_body)) == ({"A": ["b"]}, b"ok")


@pytest.mark.parametrize("count", [1, COPY_THRESHOLD + 1])
def test_a_failing_group_writes_nothing(count):
    tenant = create_tenant("rows")
    existing = draft(tenant)
    insert_rows(Message, [existing])
    fresh = [draft(tenant) for _ in range(count)]
    duplicate = draft(tenant, id=existing.id)
    with pytest.raises(DatabaseError):
        insert_groups([(Message, [*fresh, duplicate]),
                       (Event, [event_for(m, "CREATED", clock.now()) for m in fresh])])
    assert not Message.objects.filter(id__in=[m.id for m in fresh]).exists()
    assert not Event.objects.filter(message_id__in=[m.id for m in fresh]).exists()


def test_inside_a_transaction_a_rollback_takes_the_rows_with_it():
    tenant = create_tenant("rows")
    message = draft(tenant)
    with pytest.raises(RuntimeError), transaction.atomic():
        insert_rows(Message, [message])
        assert Message.objects.filter(id=message.id).exists()
        raise RuntimeError("roll back")
    assert not Message.objects.filter(id=message.id).exists()


def test_concurrent_publishes_each_see_their_own_rows_committed():
    """Sixteen threads publish at once; each finds its message and its event stored the moment
    its publish returns, whichever thread wrote them."""
    tenant = create_tenant("rows")
    failures: list = []
    barrier = threading.Barrier(16)

    def publish_and_check(index: int) -> None:
        try:
            spec = prepare(tenant, f"https://example.com/{index}", b"body", [
                ("Upstash-Delay", "1h")])
            barrier.wait(5)
            [result] = publish_specs(tenant, [spec])
            message = Message.objects.get(id=result.message_id)
            assert message.url == f"https://example.com/{index}"
            assert Event.objects.filter(message_id=result.message_id, state="CREATED").exists()
        except Exception as exc:  # collected: an assert in a thread would be lost
            failures.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=publish_and_check, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert failures == []
    assert Message.objects.filter(tenant=tenant).count() == 16
