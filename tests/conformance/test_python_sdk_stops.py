"""The official ``qstash`` SDK stops what it started: a cancel right after a publish with a
short delay prevents the delivery, and resetRate restarts the rate count at 0."""

from __future__ import annotations

import time

import pytest
from qstash.log import LogState

from tests.support.polling import wait

pytestmark = pytest.mark.django_db(transaction=True)


def states(client, message_id: str) -> list[LogState]:
    logs = client.log.list(filter={"message_id": message_id}).logs
    return [log.state for log in reversed(logs)]


def claimed(client, message_id: str) -> bool:
    return LogState.ACTIVE in states(client, message_id)


@pytest.mark.parametrize("when", ["at once", "once claimed"])
def test_message_cancel_right_after_publish_prevents_delivery(client, sink, when):
    result = client.message.publish(url=f"{sink.url}/cancel-one", body="x", delay="2s")
    if when == "once claimed":  # a worker holds it until it is due
        wait(lambda: claimed(client, result.message_id))
    client.message.cancel(result.message_id)
    wait(lambda: LogState.CANCELED in states(client, result.message_id), timeout=10)
    time.sleep(2.3)  # past its due time
    assert sink.received("/cancel-one") == []
    assert states(client, result.message_id)[-1] == LogState.CANCELED


@pytest.mark.parametrize("when", ["at once", "once claimed"])
def test_cancel_many_right_after_publish_prevents_delivery(client, sink, when):
    ids = [client.message.publish(url=f"{sink.url}/cancel-many/{i}", body="x",
                                  delay="2s").message_id for i in range(3)]
    kept = client.message.publish(url=f"{sink.url}/kept", body="x", delay="2s").message_id
    if when == "once claimed":
        wait(lambda: all(claimed(client, m) for m in ids))
    assert client.message.cancel_many(ids) == 3
    sink.wait_for(1, "/kept", timeout=10)
    wait(lambda: LogState.DELIVERED in states(client, kept))
    time.sleep(0.3)
    assert sink.received("/cancel-many/") == []
    for message_id in ids:
        assert states(client, message_id)[-1] == LogState.CANCELED


def publish_rated(client, sink, key: str, path: str) -> str:
    return client.message.publish_json(
        url=f"{sink.url}{path}", body={"n": 1},
        flow_control={"key": key, "parallelism": 5, "rate": 10, "period": "1m"}).message_id


def test_reset_rate_right_after_publish(client, sink):
    """The official SDK's own check: publish, reset at once, the count reads 0."""
    publish_rated(client, sink, "reset-at-once", "/reset-at-once")
    client.flow_control.reset_rate("reset-at-once")
    assert client.flow_control.get("reset-at-once").rate_count == 0


def test_reset_rate_right_after_the_send_starts(client, sink):
    """Reset once the message is claimed, whether or not its send slot is taken yet: the
    send belongs to the window that was reset. Sends claimed afterwards are counted."""
    message_id = publish_rated(client, sink, "reset-race", "/reset-race/1")
    wait(lambda: claimed(client, message_id))
    client.flow_control.reset_rate("reset-race")
    assert client.flow_control.get("reset-race").rate_count == 0
    sink.wait_for(1, "/reset-race/1")
    assert client.flow_control.get("reset-race").rate_count == 0
    publish_rated(client, sink, "reset-race", "/reset-race/2")
    sink.wait_for(1, "/reset-race/2")
    info = client.flow_control.get("reset-race")
    assert (info.rate_count, info.rate_max, info.rate_period) == (1, 10, 60)
