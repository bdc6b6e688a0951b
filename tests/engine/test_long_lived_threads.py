"""The recorder, dispatcher and hand-over threads outlive a failure: ended, they would leave a
process's later work undone while every message they took waits for its lease."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import DatabaseError

from django_qstash.db import connections as db_connections
from django_qstash.delivery import recorder as recorder_module
from django_qstash.delivery.batch_thread import BatchThread
from django_qstash.delivery.recorder import recorder
from django_qstash.delivery.transport import get_transport
from django_qstash.delivery.worker import process_batch
from django_qstash.engine.dispatcher import Dispatcher
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


def publish(tenant, url: str) -> str:
    return publish_specs(tenant, [prepare(tenant, url, b"payload", [])])[0].message_id


def failing_once(real, error: Exception, thread_name: str | None = None):
    """``real``, except that its first call (from ``thread_name``, if given) raises ``error``."""
    failures = []

    def call(*args):
        if not failures and thread_name in (None, threading.current_thread().name):
            failures.append(error)
            raise error
        return real(*args)

    call.failures = failures
    return call


@pytest.fixture
def handed(settings, qstash_runtime) -> list:
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": "tests.support.held.HeldTransport"}
    return get_transport().items


def test_the_recorder_outlives_a_write_and_a_close_that_fail(sink, qstash_runtime, handed,
                                                             monkeypatch):
    write = failing_once(recorder_module.record_outcomes, DatabaseError("the database went away"))
    # Closing the connection fails too, as when database access is withdrawn mid-write.
    close = failing_once(db_connections.close_old_connections,
                         RuntimeError("database access not allowed"), "qstash-recorder")
    monkeypatch.setattr(recorder_module, "record_outcomes", write)
    monkeypatch.setattr(db_connections, "close_old_connections", close)
    tenant = create_tenant("recorder")

    unrecorded = publish(tenant, f"{sink.url}/first")
    process_batch(handed[:], detach=True)
    handed.clear()
    assert qstash_runtime.wait_idle(timeout=10)
    assert write.failures and close.failures
    # Sent, its outcome not written: it stays claimed, for its lease to hand it out again.
    assert sink.received("/first")
    assert Message.objects.get(id=unrecorded).status == "active"

    recorded = publish(tenant, f"{sink.url}/second")
    process_batch(handed[:], detach=True)
    assert qstash_runtime.wait_idle(timeout=10)
    assert recorder().thread.is_alive()
    assert Message.objects.get(id=recorded).status == "delivered"


def test_the_dispatcher_outlives_a_tick_and_a_close_that_fail(monkeypatch):
    dispatcher = Dispatcher(interval=0.01, tick_hooks=())
    ticks = []
    real_tick = dispatcher.tick

    def tick():
        ticks.append(time.monotonic())
        return real_tick()

    dispatcher.tick = failing_once(tick, DatabaseError("the database went away"))
    close = failing_once(db_connections.close_old_connections,
                         RuntimeError("database access not allowed"), "qstash-dispatcher")
    monkeypatch.setattr(db_connections, "close_old_connections", close)
    thread = dispatcher.start_thread()
    try:
        deadline = time.monotonic() + 10
        while len(ticks) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert dispatcher.tick.failures and close.failures
        assert len(ticks) >= 3 and thread.is_alive()
    finally:
        dispatcher.stop()


class Collecting(BatchThread):
    """Fails on its first batch, keeps the others."""

    def __init__(self) -> None:
        super().__init__("qstash-test-batches")
        self.kept: list = []

    def _handle(self, items: list) -> None:
        if items == [("first", 1)]:
            raise DatabaseError("the database went away")
        self.kept += items

    def add(self, items: list) -> None:
        with self.cond:
            self.pending.extend(items)
            self.cond.notify_all()

    def drained(self) -> bool:
        with self.cond:
            return self.cond.wait_for(lambda: not self.pending and not self.handling, 5)


def test_a_hand_over_thread_outlives_a_batch_that_fails():
    batches = Collecting().start()
    batches.add([("first", 1)])
    assert batches.drained()
    batches.add([("second", 1)])
    assert batches.drained()
    assert batches.kept == [("second", 1)] and batches.thread.is_alive()
    batches.stop()
    batches.join(5)
    assert not batches.thread.is_alive()
