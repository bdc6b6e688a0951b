"""Stops reach messages a worker picks up after them (from the broker, or held for a rate
slot): a paused queue or flow-control key gets them back unattempted, a cancel finishes them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_qstash.core import clock
from django_qstash.delivery.worker import process_batch
from django_qstash.engine.dispatcher import claim_queued, claim_unqueued
from django_qstash.engine.flow_control import claim_flow_controlled, take_send_slot
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken, Event, FlowControlKey, Message, Queue

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def tenant_api(client):
    tenant = create_tenant("stops")
    _, token = ApiToken.issue(tenant, name="stops")

    def call(method: str, path: str):
        response = getattr(client, method)(path, HTTP_AUTHORIZATION=f"Bearer {token}")
        assert response.status_code == 200, response.content
        return response

    return tenant, call


def published(tenant, url: str, *headers: tuple[str, str], queue: str = "") -> str:
    spec = prepare(tenant, url, b"x", list(headers), queue_name=queue)
    return publish_specs(tenant, [spec])[0].message_id


def states(message_id: str) -> list[str]:
    return list(Event.objects.filter(message_id=message_id).order_by("time", "id")
                .values_list("state", flat=True))


def test_a_queue_paused_before_its_claimed_message_is_picked_up(tenant_api, sink):
    tenant, call = tenant_api
    Queue.objects.create(tenant=tenant, name="q", parallelism=1)
    message_id = published(tenant, f"{sink.url}/queued", queue="q")
    items = claim_queued(clock.now(), 10)  # handed to the broker...
    assert [item[0] for item in items] == [message_id]
    call("post", "/v2/queues/q/pause")  # ...and paused before a worker picks it up
    process_batch(items)
    assert sink.received("/queued") == []
    message = Message.objects.get(pk=message_id)
    assert (message.status, message.retried, message.lease_expires_at) == ("pending", 0, None)
    assert claim_queued(clock.now(), 10) == []  # it waits in the paused queue
    call("post", "/v2/queues/q/resume")
    process_batch(claim_queued(clock.now(), 10))
    assert len(sink.wait_for(1, "/queued")) == 1
    assert Message.objects.get(pk=message_id).status == "delivered"


def test_a_flow_control_key_paused_before_its_claimed_message_is_picked_up(tenant_api, sink):
    tenant, call = tenant_api
    message_id = published(tenant, f"{sink.url}/keyed", ("Upstash-Flow-Control-Key", "k"),
                           ("Upstash-Flow-Control-Value", "parallelism=1"))
    items = claim_flow_controlled(clock.now(), 10)
    assert [item[0] for item in items] == [message_id]
    call("post", "/v2/flowControl/k/pause")
    process_batch(items)
    assert sink.received("/keyed") == []
    assert Message.objects.get(pk=message_id).status == "pending"
    call("post", "/v2/flowControl/k/resume")
    process_batch(claim_flow_controlled(clock.now(), 10))
    sink.wait_for(1, "/keyed")
    assert Message.objects.get(pk=message_id).status == "delivered"


def test_a_key_paused_while_a_send_waits_for_its_rate_slot(tenant_api):
    tenant, call = tenant_api
    row = FlowControlKey.objects.create(tenant=tenant, key="slow", rate_max=1, rate_period=5)
    messages = []
    for _ in range(2):
        message_id = published(tenant, "https://example.com/x",
                               ("Upstash-Flow-Control-Key", "slow"))
        Message.objects.filter(pk=message_id).update(
            status="active", claim_token=1, lease_expires_at=clock.now() + timedelta(seconds=60))
        messages.append(Message.objects.get(pk=message_id))
    # Publishing configured the key from the messages (no rate): limit it again.
    FlowControlKey.objects.filter(pk=row.pk).update(rate_max=1, rate_period=5)
    assert take_send_slot(messages[0])
    paused = []

    def pause_then_sleep(seconds: float) -> None:
        if not paused:
            paused.append(call("post", "/v2/flowControl/slow/pause"))

    assert not take_send_slot(messages[1], sleep=pause_then_sleep)
    assert Message.objects.get(pk=messages[1].pk).status == "pending"


def test_a_message_cancelled_while_in_the_broker_is_finished_unsent(tenant_api, sink):
    tenant, call = tenant_api
    message_id = published(tenant, f"{sink.url}/brokered", ("Upstash-Delay", "1h"))
    Message.objects.filter(pk=message_id).update(not_before=clock.now())  # due now
    items = claim_unqueued(clock.now(), 10)
    call("delete", f"/v2/messages/{message_id}")
    process_batch(items)
    assert sink.received("/brokered") == []
    assert states(message_id)[-2:] == ["CANCEL_REQUESTED", "CANCELED"]
