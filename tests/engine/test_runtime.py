"""The process runtime: started by entry points or on first use, stopped in order, joined, fresh after fork."""

from __future__ import annotations

import os
import threading

import pytest

from django_qstash.delivery import sender
from django_qstash.delivery.runtime import current
from django_qstash.delivery.transport import get_transport
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Message
from django_qstash.tasks import start_runtime, stop_runtime

pytestmark = pytest.mark.django_db(transaction=True)
THREADS = {"qstash-sender", "qstash-recorder", "qstash-submitter"}
# Started on first use only: the sender of a broker process's own due-now messages.
LOCAL = "qstash-local"


def runtime_threads() -> set[str]:
    return {thread.name for thread in threading.enumerate()} & (THREADS | {LOCAL})


def publish(url: str) -> str:
    tenant = create_tenant("runtime")
    return publish_specs(tenant, [prepare(tenant, url, b"payload", [])])[0].message_id


@pytest.fixture
def stopped():
    """No runtime part running when the test starts, and none left when it ends."""
    runtime = current()
    runtime.stop()
    runtime.join()
    yield runtime
    runtime.stop()
    runtime.join()


def test_stop_sends_and_records_what_was_accepted_then_join_ends_every_thread(sink, stopped):
    runtime = stopped.start()
    assert runtime_threads() == {"qstash-sender", "qstash-recorder"}  # in-process: no submitter
    session = sender.loop().session
    message_id = publish(f"{sink.url}/accepted")

    assert runtime.stop(timeout=15)
    # Stopped only after the send and its outcome: nothing is left to a lease.
    assert Message.objects.get(id=message_id).status == "delivered"
    assert DeliveryAttempt.objects.filter(message_id=message_id).count() == 1
    assert session.closed
    runtime.join()
    assert runtime_threads() == set()
    assert not runtime.running


def test_a_part_asked_for_after_stop_starts_again_on_first_use(sink, stopped):
    publish(f"{sink.url}/first")
    assert stopped.wait_idle(timeout=15)
    first = sender.loop()
    stopped.stop()
    stopped.join()
    message_id = publish(f"{sink.url}/second")  # a later publish in the same process
    assert stopped.wait_idle(timeout=15)
    assert sender.loop() is not first and not sender.loop().session.closed
    assert Message.objects.get(id=message_id).status == "delivered"


class BrokerStandIn:
    """A broker-like transport (not in-process): what a web process publishing through
    Celery uses."""

    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, items: list) -> None:
        self.submitted.extend(items)


def test_a_web_process_publishing_through_a_broker_starts_only_the_submitter(settings, stopped):
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": f"{__name__}.BrokerStandIn",
                       "LOCAL_DELIVERY_LIMIT": 0}
    message_id = publish("http://127.0.0.1:9/hook")
    assert stopped.wait_idle(timeout=10)
    assert [item[0] for item in get_transport().submitted] == [message_id]
    assert runtime_threads() == {"qstash-submitter"}


def test_a_web_process_sending_its_own_due_now_messages_starts_what_sends(sink, settings,
                                                                         stopped):
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": f"{__name__}.BrokerStandIn",
                       "LOCAL_DELIVERY_LIMIT": 10}
    message_id = publish(f"{sink.url}/local")
    assert stopped.wait_idle(timeout=10)
    assert get_transport().submitted == []
    assert Message.objects.get(id=message_id).status == "delivered"
    assert runtime_threads() == {LOCAL, "qstash-sender", "qstash-recorder"}
    stopped.stop()
    stopped.join()
    assert runtime_threads() == set()


def test_the_celery_hooks_start_and_stop_a_worker_process_runtime(settings, stopped):
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": "celery"}
    start_runtime(sender=None)  # worker_process_init, in each prefork child
    assert runtime_threads() == THREADS
    stop_runtime(sender=None)  # worker_process_shutdown / worker_shutdown
    assert runtime_threads() == set()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork only")
def test_a_forked_child_gets_a_fresh_runtime_of_its_own(sink, stopped):
    parent = stopped.start()
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report, and leave without running anything of the parent's
        child = current()
        ok = child is not parent and not child.running and child.pid == os.getpid()
        os.write(write, b"1" if ok else b"0")
        os._exit(0)
    os.close(write)
    answer = os.read(read, 1)
    os.waitpid(pid, 0)
    os.close(read)
    assert answer == b"1"
    assert current() is parent and parent.running
