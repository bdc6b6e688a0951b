"""The official ``qstash`` SDK, pointed at our live server, drives every core endpoint."""

from __future__ import annotations

import pytest
from qstash import Receiver
from qstash.log import LogState

from tests.support.polling import wait

pytestmark = pytest.mark.django_db(transaction=True)


def test_publish_json_is_delivered_and_verifies_with_the_sdk_receiver(client, qstash, sink):
    url = f"{sink.url}/hook"
    result = client.message.publish_json(url=url, body={"hello": "world"},
                                         headers={"X-Custom": "v"}, retries=2, label="core")
    [arrival] = sink.wait_for(1)
    receiver = Receiver(current_signing_key=qstash.current_key, next_signing_key=qstash.next_key)
    receiver.verify(signature=arrival.headers["Upstash-Signature"],
                    body=arrival.body.decode(), url=url)
    assert arrival.body == b'{"hello": "world"}'
    assert arrival.headers["X-Custom"] == "v"
    message = client.message.get(result.message_id)
    assert message.url == url and message.label == "core" and message.max_retries == 2


def test_publish_with_delay_get_and_cancel(client, sink):
    result = client.message.publish(url=f"{sink.url}/later", body="text", delay="1h",
                                    content_type="text/plain", method="PUT")
    message = client.message.get(result.message_id)
    assert message.method == "PUT" and message.body == "text"
    assert message.not_before - message.created_at == 3_600_000
    client.message.cancel(result.message_id)
    # The answer also carries the message's state now: the SDK still parses it.
    assert client.message.get(result.message_id).message_id == result.message_id
    ids = [client.message.publish(url=f"{sink.url}/x", body="b", delay=3600).message_id
           for _ in range(3)]
    assert client.message.cancel_many(ids[:2]) == 2
    assert client.message.cancel_all() == 1


def test_batch_json(client, sink):
    results = client.message.batch_json([
        {"url": f"{sink.url}/a", "body": {"n": 1}},
        {"url": f"{sink.url}/b", "body": {"n": 2}, "headers": {"X-N": "2"}},
    ])
    assert len(results) == 2 and all(r.message_id for r in results)
    assert sink.wait_for(1, "/b")[0].headers["X-N"] == "2"


def test_dlq_list_get_delete(client, sink):
    first = client.message.publish(url=f"{sink.url}/status/404", body="a", retries=0)
    second = client.message.publish(url=f"{sink.url}/status/404", body="b", retries=0)
    listed = wait(lambda: (lambda r: r if len(r.messages) == 2 else None)(client.dlq.list()))
    by_id = {m.message_id: m for m in listed.messages}
    assert set(by_id) == {first.message_id, second.message_id}
    entry = client.dlq.get(by_id[first.message_id].dlq_id)
    assert entry.response_status == 404 and entry.response_body == "404 answer"
    client.dlq.delete(entry.dlq_id)
    assert client.dlq.delete_many([by_id[second.message_id].dlq_id]) == 1
    assert client.dlq.list().messages == []


def test_logs_list_with_filters(client, sink):
    result = client.message.publish(url=f"{sink.url}/logged", body="x")
    sink.wait_for(1, "/logged")
    delivered = wait(lambda: client.log.list(
        filter={"message_id": result.message_id, "state": LogState.DELIVERED}).logs)
    assert len(delivered) == 1 and delivered[0].url == f"{sink.url}/logged"
    everything = client.log.list(filter={"message_id": result.message_id})
    assert [log.state for log in everything.logs][-1] == LogState.CREATED


def test_signing_keys_get_and_rotate(client, qstash):
    keys = client.signing_key.get()
    assert (keys.current, keys.next) == (qstash.current_key, qstash.next_key)
    rotated = client.signing_key.rotate()
    assert rotated.current == qstash.next_key and rotated.next not in (keys.current, keys.next)
