"""A Celery task holding a batch claimed ahead returns once it is prepared; the recorder writes its outcomes."""

from __future__ import annotations

import math
import time

import pytest

from django_qstash import clock
from django_qstash.dispatcher import claim_unqueued
from django_qstash.models import DeliveryAttempt, Event, Message
from django_qstash.publishing import prepare, publish_specs
from django_qstash.recorder import recorder
from django_qstash.tasks import record_detached_outcomes
from django_qstash.tenants import create_tenant
from django_qstash.worker import process_batch

pytestmark = pytest.mark.django_db(transaction=True)


def publish(tenant, url: str, headers: list[tuple[str, str]]) -> str:
    return publish_specs(tenant, [prepare(tenant, url, b"payload", headers)])[0].message_id


@pytest.fixture(autouse=True)
def wide_claim_window(settings):
    settings.QSTASH = {**settings.QSTASH, "CLAIM_AHEAD_SECONDS": 5}


def test_a_batch_not_yet_due_returns_before_it_is_sent_and_is_recorded_after(sink):
    tenant = create_tenant("detached")
    due = math.ceil(time.time()) + 2
    ids = {publish(tenant, f"{sink.url}/ahead/{i}", [("Upstash-Not-Before", str(due))])
           for i in range(5)}
    items = claim_unqueued(clock.now(), 10)
    assert {message_id for message_id, _ in items} == ids

    process_batch(items, detach_ahead=True)
    returned_at = time.time()
    assert returned_at < due, "the task waited for the due time"
    assert sink.received("/ahead/") == []
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {"active"}

    assert recorder.drain(timeout=15)
    arrivals = sink.received("/ahead/")
    assert len(arrivals) == 5 and min(a.at for a in arrivals) >= due
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        "delivered"}
    assert DeliveryAttempt.objects.filter(message_id__in=ids).count() == 5
    assert Event.objects.filter(message_id__in=ids, state="DELIVERED").count() == 5


def test_a_due_batch_is_recorded_before_the_task_returns(sink, monkeypatch):
    handed: list = []  # the publish's own hand-over, kept here instead of the transport
    monkeypatch.setattr("django_qstash.transport.hand_over", handed.extend)
    tenant = create_tenant("detached")
    message_id = publish(tenant, f"{sink.url}/now", [])
    assert [item[0] for item in handed] == [message_id]
    process_batch(handed, detach_ahead=True)
    assert Message.objects.get(id=message_id).status == "delivered"


def test_worker_shutdown_waits_for_the_outcomes_still_unwritten(sink):
    tenant = create_tenant("detached")
    due = math.ceil(time.time()) + 1
    message_id = publish(tenant, f"{sink.url}/late", [("Upstash-Not-Before", str(due))])
    process_batch(claim_unqueued(clock.now(), 10), detach_ahead=True)
    assert Message.objects.get(id=message_id).status == "active"
    record_detached_outcomes(sender=None)  # what Celery calls as a worker (child) exits
    assert Message.objects.get(id=message_id).status == "delivered"
    assert len(sink.received("/late")) == 1
