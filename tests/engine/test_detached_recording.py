"""A Celery task returns once its batch is started (claimed ahead: prepared); the recorder writes the outcomes."""

from __future__ import annotations

import math
import threading
import time

import pytest

from django_qstash.core import clock
from django_qstash.delivery.recorder import recorder
from django_qstash.delivery.transport import get_transport
from django_qstash.delivery.worker import process_batch
from django_qstash.engine.dispatcher import claim_unqueued
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Event, Message
from django_qstash.tasks import stop_runtime

pytestmark = pytest.mark.django_db(transaction=True)


def publish(tenant, url: str, headers: list[tuple[str, str]]) -> str:
    return publish_specs(tenant, [prepare(tenant, url, b"payload", headers)])[0].message_id


@pytest.fixture(autouse=True)
def wide_claim_window(settings):
    settings.QSTASH = {**settings.QSTASH, "CLAIM_AHEAD_SECONDS": 5}


@pytest.fixture
def runtime(qstash_runtime):
    return qstash_runtime


@pytest.fixture
def handed(settings, runtime) -> list:
    """The publish's own hand-overs, kept here instead of reaching a worker."""
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": "tests.support.held.HeldTransport"}
    return get_transport().items


def test_a_batch_not_yet_due_returns_before_it_is_sent_and_is_recorded_after(sink, runtime):
    tenant = create_tenant("detached")
    due = math.ceil(time.time()) + 2
    ids = {publish(tenant, f"{sink.url}/ahead/{i}", [("Upstash-Not-Before", str(due))])
           for i in range(5)}
    items = claim_unqueued(clock.now(), 10)
    assert {message_id for message_id, _ in items} == ids

    process_batch(items, detach=True)
    returned_at = time.time()
    assert returned_at < due, "the task waited for the due time"
    assert sink.received("/ahead/") == []
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {"active"}

    assert runtime.wait_idle(timeout=15)
    arrivals = sink.received("/ahead/")
    assert len(arrivals) == 5 and min(a.at for a in arrivals) >= due
    assert set(Message.objects.filter(id__in=ids).values_list("status", flat=True)) == {
        "delivered"}
    assert DeliveryAttempt.objects.filter(message_id__in=ids).count() == 5
    assert Event.objects.filter(message_id__in=ids, state="DELIVERED").count() == 5


def test_a_due_batch_is_recorded_by_the_recorder_without_waiting_for_other_sends(
        sink, runtime, handed):
    tenant = create_tenant("detached")
    due = math.ceil(time.time()) + 3
    later = publish(tenant, f"{sink.url}/later", [("Upstash-Not-Before", str(due))])
    process_batch(claim_unqueued(clock.now(), 10), detach=True)  # a send out until `due`
    message_ids = [publish(tenant, f"{sink.url}/now/{i}", []) for i in range(3)]
    assert [item[0] for item in handed] == message_ids
    process_batch(handed, detach=True)
    deadline = time.monotonic() + 10
    while (Message.objects.filter(id__in=message_ids, status="delivered").count() < 3
           and time.monotonic() < deadline):
        time.sleep(0.05)
    assert time.time() < due, "due-now outcomes waited for the send still out"
    assert Message.objects.filter(id__in=message_ids, status="delivered").count() == 3
    assert DeliveryAttempt.objects.filter(message_id__in=message_ids).count() == 3
    assert Message.objects.get(id=later).status == "active"
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=later).status == "delivered"


def test_a_task_waits_while_too_many_due_now_outcomes_are_unwritten(sink, monkeypatch, runtime,
                                                                  handed):
    monkeypatch.setattr("django_qstash.delivery.recorder.MAX_UNWRITTEN_NOW", 2)
    writes: list[int] = []
    real_write = recorder()._write

    def slow_write(results):  # the database lags behind the sends
        time.sleep(0.3)
        writes.append(len(results))
        real_write(results)

    monkeypatch.setattr(recorder(), "_write", slow_write)
    tenant = create_tenant("detached")
    first = [publish(tenant, f"{sink.url}/bp/a{i}", []) for i in range(2)]
    process_batch(handed[:2], detach=True)
    deadline = time.monotonic() + 10
    while recorder().unwritten_now < 2 and time.monotonic() < deadline:  # landed, unwritten
        time.sleep(0.005)
    assert not writes
    second = publish(tenant, f"{sink.url}/bp/b", [])
    process_batch(handed[2:], detach=True)  # waits until one of the first two is written
    assert writes and Message.objects.filter(id__in=first, status="delivered").count() >= 1
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=second).status == "delivered"


def test_worker_shutdown_waits_for_the_outcomes_still_unwritten(sink, runtime):
    tenant = create_tenant("detached")
    due = math.ceil(time.time()) + 1
    message_id = publish(tenant, f"{sink.url}/late", [("Upstash-Not-Before", str(due))])
    process_batch(claim_unqueued(clock.now(), 10), detach=True)
    assert Message.objects.get(id=message_id).status == "active"
    stop_runtime(sender=None)  # what Celery calls as a worker (child) exits
    assert Message.objects.get(id=message_id).status == "delivered"
    assert len(sink.received("/late")) == 1


def test_a_stuck_recorder_holds_a_task_no_longer_than_its_bound(sink, monkeypatch, runtime,
                                                                handed):
    monkeypatch.setattr("django_qstash.delivery.recorder.MAX_UNWRITTEN_NOW", 1)
    monkeypatch.setattr("django_qstash.delivery.recorder.BACKPRESSURE_SECONDS", 0.5)
    release = threading.Event()
    real_write = recorder()._write

    def stuck_write(results):  # the database hangs
        release.wait(30)
        real_write(results)

    monkeypatch.setattr(recorder(), "_write", stuck_write)
    tenant = create_tenant("stuck")
    ids = [publish(tenant, f"{sink.url}/stuck/{i}", []) for i in range(2)]
    process_batch(handed[:1], detach=True)
    finished = threading.Event()
    threading.Thread(target=lambda: (process_batch(handed[1:], detach=True), finished.set()),
                     daemon=True).start()
    assert finished.wait(10), "a task waited for a stuck recorder without a bound"
    release.set()
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.filter(id__in=ids, status="delivered").count() == 2


def test_sends_still_out_do_not_hold_back_the_next_task(sink, monkeypatch, runtime, handed):
    """Only outcomes that landed wait for the database: a slow destination's requests
    (or requests waiting for their tenant's share of slots) never stop a worker slot."""
    monkeypatch.setattr("django_qstash.delivery.recorder.MAX_UNWRITTEN_NOW", 2)
    slow_tenant, other = create_tenant("slow"), create_tenant("other")
    for i in range(3):
        publish(slow_tenant, f"{sink.url}/sleep/3", [("Upstash-Retries", "0")])
    process_batch(handed[:3], detach=True)
    quick = publish(other, f"{sink.url}/quick", [])
    started = time.monotonic()
    process_batch(handed[3:], detach=True)
    assert time.monotonic() - started < 1, "the next task waited for slow sends to finish"
    sink.wait_for(1, "/quick", timeout=5)
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=quick).status == "delivered"
