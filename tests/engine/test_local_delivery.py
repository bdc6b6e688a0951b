"""With a broker transport, the publishing process sends its due-now messages itself, up to a bound."""

from __future__ import annotations

import threading
import time

import pytest

from django_qstash.delivery.local import SMALL_HAND_OVER, LocalDelivery
from django_qstash.delivery.transport import get_transport, submitter
from django_qstash.engine.cancellation import cancel
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Event, Message

pytestmark = pytest.mark.django_db(transaction=True)


class Broker:
    """A broker-like transport (not in-process) that keeps what it is handed."""

    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, items: list) -> None:
        self.submitted.extend(items)


@pytest.fixture
def broker(settings, runtime):
    def use(limit: int, **more):
        settings.QSTASH = {**settings.QSTASH, "TRANSPORT": f"{__name__}.Broker",
                           "LOCAL_DELIVERY_LIMIT": limit, **more}
        return get_transport()
    return use


def publish(tenant, *urls: str, pairs=()) -> list[str]:
    specs = [prepare(tenant, url, b"payload", list(pairs)) for url in urls]
    return [result.message_id for result in publish_specs(tenant, specs)]


def states(message_id: str) -> list[str]:
    return list(Event.objects.filter(message_id=message_id).order_by("time", "id")
                .values_list("state", flat=True))


def test_a_due_now_message_is_sent_and_recorded_by_the_process_that_published_it(
        sink, broker, runtime):
    transport = broker(limit=10)
    tenant = create_tenant("local")
    [message_id] = publish(tenant, f"{sink.url}/here")
    assert runtime.wait_idle(timeout=15)
    [arrival] = sink.received("/here")
    assert arrival.headers["Upstash-Message-Id"] == message_id
    assert "Upstash-Signature" in arrival.headers
    assert transport.submitted == []  # the broker never saw it
    assert Message.objects.get(id=message_id).status == "delivered"
    assert DeliveryAttempt.objects.filter(message_id=message_id).count() == 1
    assert states(message_id) == ["CREATED", "ACTIVE", "DELIVERED"]


def test_a_hand_over_that_does_not_fit_goes_to_the_broker_whole_and_claimed(sink, broker,
                                                                            runtime):
    transport = broker(limit=2)
    tenant = create_tenant("overflow")
    ids = publish(tenant, *[f"{sink.url}/batch/{i}" for i in range(3)])
    pair = publish(tenant, f"{sink.url}/pair/1", f"{sink.url}/pair/2")
    assert runtime.wait_idle(timeout=15)
    assert [item[0] for item in transport.submitted] == ids
    assert sink.received("/batch/") == []
    assert sorted(a.headers["Upstash-Message-Id"] for a in sink.received("/pair/")) == \
        sorted(pair)
    for message in Message.objects.filter(id__in=ids):  # claimed, waiting for a worker
        assert (message.status, message.claim_token) == ("active", 1)
        assert message.lease_expires_at is not None


def test_a_batch_publish_goes_to_the_broker_whole(sink, broker, runtime):
    transport = broker(limit=100)
    ids = publish(create_tenant("batch"),
                  *[f"{sink.url}/many/{i}" for i in range(SMALL_HAND_OVER + 1)])
    assert runtime.wait_idle(timeout=15)
    assert [item[0] for item in transport.submitted] == ids
    assert sink.received("/many/") == []


def test_the_limit_counts_sends_until_they_are_answered(sink, broker, runtime):
    transport = broker(limit=1)
    tenant = create_tenant("slow")
    [slow] = publish(tenant, f"{sink.url}/sleep/1")
    sink.wait_for(1, "/sleep/", timeout=10)
    [meanwhile] = publish(tenant, f"{sink.url}/meanwhile")  # the one place is taken
    assert submitter().flush()
    assert [item[0] for item in transport.submitted] == [meanwhile]
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=slow).status == "delivered"
    [after] = publish(tenant, f"{sink.url}/after")  # answered: the place is free again
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=after).status == "delivered"
    assert [item[0] for item in transport.submitted] == [meanwhile]


def test_a_limit_of_zero_sends_everything_through_the_broker(sink, broker, runtime):
    transport = broker(limit=0)
    [message_id] = publish(create_tenant("zero"), f"{sink.url}/broker")
    assert submitter().flush()
    assert [item[0] for item in transport.submitted] == [message_id]
    assert {t.name for t in threading.enumerate()} & {"qstash-local", "qstash-sender"} == set()


def held(items) -> tuple[LocalDelivery, list]:
    """A local sender holding ``items``, its thread not started yet."""
    handed: list = []
    local = LocalDelivery(10, handed.extend)
    assert local.take(list(items)) == []
    return local, handed


def test_a_cancel_committed_before_the_local_sender_looks_is_honoured(sink, broker, runtime):
    transport = broker(limit=0)  # claimed by publishing, kept by the stand-in broker
    tenant = create_tenant("cancel")
    [message_id] = publish(tenant, f"{sink.url}/cancelled")
    assert submitter().flush()
    local, _ = held(transport.submitted)
    assert cancel(Message.objects.filter(id=message_id)) == 1
    local.start()
    assert local.wait_idle(10) and runtime.wait_idle(timeout=10)
    local.stop()
    local.join(5)
    assert Message.objects.get(id=message_id).status == "canceled"
    assert sink.received("/cancelled") == []
    assert states(message_id)[-2:] == ["CANCEL_REQUESTED", "CANCELED"]


@pytest.fixture
def parked(broker, monkeypatch):
    """The local sender publishing hands its due-now messages to, its thread not started:
    what happens between the publish and its look at the rows is up to the test."""
    from django_qstash.delivery import transport as transport_module

    broker(limit=10)
    local = LocalDelivery(10, lambda items: None)
    monkeypatch.setattr(transport_module, "local_delivery", lambda: local)
    yield local
    local.stop()
    local.join(5)


def send_parked(local, runtime) -> None:
    local.start()
    assert local.wait_idle(10) and runtime.wait_idle(timeout=10)


def test_publishing_hands_its_rows_over_and_a_cancel_before_the_send_is_still_honoured(
        sink, parked, runtime):
    tenant = create_tenant("cancel-rows")
    [message_id] = publish(tenant, f"{sink.url}/cancelled-rows")
    assert list(parked.rows) == [message_id]  # the rows as written: not read back
    assert cancel(Message.objects.filter(id=message_id)) == 1
    send_parked(parked, runtime)
    assert Message.objects.get(id=message_id).status == "canceled"
    assert sink.received("/cancelled-rows") == []
    assert states(message_id)[-2:] == ["CANCEL_REQUESTED", "CANCELED"]


def test_a_row_claimed_again_meanwhile_is_not_sent_from_the_rows_handed_over(
        sink, parked, runtime):
    tenant = create_tenant("reclaimed")
    [message_id] = publish(tenant, f"{sink.url}/reclaimed")
    Message.objects.filter(id=message_id).update(claim_token=2)  # a dispatcher took it over
    send_parked(parked, runtime)
    assert sink.received("/reclaimed") == []
    assert Message.objects.get(id=message_id).status == "active"


def test_a_key_rotated_between_publish_and_send_signs_the_local_send(sink, parked, runtime):
    import jwt

    from django_qstash.models import SigningKeyPair

    tenant = create_tenant("rotated")
    pair = SigningKeyPair.for_tenant(tenant)
    [message_id] = publish(tenant, f"{sink.url}/rotated", pairs=[("Content-Type", "text/plain")])
    pair.rotate()
    send_parked(parked, runtime)
    [arrival] = sink.received("/rotated")
    assert arrival.body == b"payload"
    assert arrival.headers["Upstash-Message-Id"] == message_id
    jwt.decode(arrival.headers["Upstash-Signature"], pair.current, algorithms=["HS256"],
               issuer="Upstash")
    assert Message.objects.get(id=message_id).status == "delivered"


def test_stop_hands_what_the_thread_has_not_taken_to_the_broker(broker):
    broker(limit=0)
    local, handed = held([("m1", 1), ("m2", 1)])
    local.stop()
    assert handed == [("m1", 1), ("m2", 1)]
    assert local.take([("m3", 1)]) == [("m3", 1)]  # stopped: nothing more is kept


def test_a_message_lost_with_its_process_comes_back_by_its_lease(sink, broker, runtime,
                                                                 settings):
    """A publishing process killed before sending: the rows are claimed with a lease, and
    the dispatcher hands them out again once it lapses."""
    from datetime import timedelta

    from django_qstash.core.clock import FrozenClock, SystemClock, set_clock
    from django_qstash.engine.dispatcher import Dispatcher

    transport = broker(limit=0)
    [message_id] = publish(create_tenant("killed"), f"{sink.url}/lost")
    assert submitter().flush()
    transport.submitted.clear()  # the process died with them: nobody sends them
    lease = Message.objects.get(id=message_id).lease_expires_at
    assert Dispatcher(interval=0.05, tick_hooks=()).tick() == 0  # leased: not handed out
    set_clock(FrozenClock(lease + timedelta(seconds=1)))
    try:
        assert Dispatcher(interval=0.05, tick_hooks=()).tick() == 1
    finally:
        set_clock(SystemClock())
    [(reclaimed, token)] = transport.submitted
    assert (reclaimed, token) == (message_id, 2)


def test_a_refused_private_destination_is_refused_when_sent_locally(sink, broker, runtime):
    broker(limit=10, ALLOW_PRIVATE_DESTINATIONS=False, ALLOWED_DESTINATIONS=[])
    port = sink.server.server_address[1]
    [message_id] = publish(create_tenant("ssrf"), f"http://localhost:{port}/secret",
                           pairs=[("Upstash-Retries", "2")])
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=message_id).status == "failed"
    failed = Event.objects.get(message_id=message_id, state="FAILED")
    assert failed.error.startswith("refused: destination")
    assert sink.received("/secret") == []


def test_callbacks_of_a_locally_sent_message_are_sent_too(sink, broker, runtime):
    transport = broker(limit=10)
    [message_id] = publish(create_tenant("callbacks"), f"{sink.url}/with-callback",
                           pairs=[("Upstash-Callback", f"{sink.url}/callback")])
    [callback] = sink.wait_for(1, "/callback", timeout=15)
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=message_id).status == "delivered"
    assert Message.objects.get(id=callback.headers["Upstash-Message-Id"]).status == "delivered"
    assert transport.submitted == []


def test_one_tenant_holding_its_share_does_not_hold_another_tenants_local_send(
        sink, broker, runtime):
    broker(limit=10, DELIVERY_CONCURRENCY=2, DELIVERY_CONCURRENCY_PER_TENANT=1,
           DELIVERY_CONCURRENCY_PER_HOST=2)
    slow, other = create_tenant("slow-tenant"), create_tenant("other-tenant")
    publish(slow, f"{sink.url}/sleep/1.5?n=1", f"{sink.url}/sleep/1.5?n=2")
    sink.wait_for(1, "/sleep/", timeout=10)
    started = time.monotonic()
    publish(other, f"{sink.url}/quick")
    sink.wait_for(1, "/quick", timeout=10)
    assert time.monotonic() - started < 1.0  # not behind the slow tenant's second send
    assert len(sink.received("/sleep/")) == 1
    assert runtime.wait_idle(timeout=15)


def test_each_tenants_local_sends_are_signed_with_its_own_key(sink, broker, runtime):
    import jwt

    from django_qstash.models import SigningKeyPair

    broker(limit=10)
    tenants = [create_tenant("signer-a"), create_tenant("signer-b")]
    for tenant in tenants:
        publish(tenant, f"{sink.url}/signed/{tenant.pk}")
    assert runtime.wait_idle(timeout=15)
    for tenant in tenants:
        [arrival] = sink.received(f"/signed/{tenant.pk}")
        key = SigningKeyPair.for_tenant(tenant).current
        claims = jwt.decode(arrival.headers["Upstash-Signature"], key, algorithms=["HS256"],
                            issuer="Upstash")
        assert claims["sub"] == f"{sink.url}/signed/{tenant.pk}"


def test_a_failed_local_send_is_dead_lettered_and_its_failure_callback_sent(sink, broker,
                                                                           runtime):
    from django_qstash.models import DlqEntry

    transport = broker(limit=10)
    [message_id] = publish(create_tenant("dlq"), f"{sink.url}/status/500",
                           pairs=[("Upstash-Retries", "0"),
                                  ("Upstash-Failure-Callback", f"{sink.url}/failed")])
    sink.wait_for(1, "/failed", timeout=15)
    assert runtime.wait_idle(timeout=15)
    assert Message.objects.get(id=message_id).status == "failed"
    assert DlqEntry.objects.filter(message_id=message_id).count() == 1
    assert transport.submitted == []


def test_a_retry_after_a_local_send_waits_for_the_dispatcher(sink, broker, runtime):
    transport = broker(limit=10)
    [message_id] = publish(create_tenant("retry"), f"{sink.url}/status/500",
                           pairs=[("Upstash-Retries", "2")])
    assert runtime.wait_idle(timeout=15)
    message = Message.objects.get(id=message_id)
    assert (message.status, message.retried) == ("pending", 1)
    assert len(sink.received("/status/500")) == 1
    assert transport.submitted == []


def test_queued_and_flow_controlled_messages_never_take_the_local_path(sink, broker, runtime):
    """Their limits (queue order and parallelism, a key's rate and parallelism) are kept by
    the dispatcher, which claims them; publishing leaves them waiting."""
    transport = broker(limit=10)
    tenant = create_tenant("limits")
    queued = publish_specs(tenant, [prepare(tenant, f"{sink.url}/queued", b"x", [],
                                            queue_name="fifo")])[0].message_id
    [keyed] = publish(tenant, f"{sink.url}/keyed",
                      pairs=[("Upstash-Flow-Control-Key", "k"),
                             ("Upstash-Flow-Control-Value", "parallelism=1")])
    assert runtime.wait_idle(timeout=10)
    assert sink.received("/queued") == [] and sink.received("/keyed") == []
    assert transport.submitted == []
    assert set(Message.objects.filter(id__in=[queued, keyed]).values_list("status", flat=True)) \
        == {"pending"}
