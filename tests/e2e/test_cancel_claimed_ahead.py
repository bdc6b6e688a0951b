"""A message cancelled before its first byte is sent is never delivered, even when a worker
already holds it (claimed ahead of its due time)."""

from __future__ import annotations

import time

from .helpers import api, events, publish, wait_for_state


def test_cancel_right_after_publish_with_a_delay_prevents_delivery(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/cancelled", b"x", Upstash_Delay="2s")
    # Give the dispatcher time to claim it ahead (it polls every 50 ms), then cancel.
    time.sleep(0.3)
    response = api(qstash, "DELETE", f"/v2/messages/{message_id}")
    assert response.status_code == 200, response.text
    seen = wait_for_state(qstash, message_id, "CANCELED", timeout=10)
    time.sleep(2.5)  # past its due time: a send would have arrived by now
    assert sink.received("/cancelled") == []
    assert events(qstash, message_id) == seen
    assert seen[-1] == "CANCELED" and "DELIVERED" not in seen


def test_bulk_cancel_right_after_publish_prevents_delivery(qstash, sink):
    items = [{"destination": f"{sink.url}/bulk/{i}", "body": "x",
              "headers": {"Upstash-Delay": "2s"}} for i in range(5)]
    response = api(qstash, "POST", "/v2/batch", json=items)
    assert response.status_code == 200, response.text
    ids = [item["messageId"] for item in response.json()]
    time.sleep(0.3)
    response = api(qstash, "DELETE", "/v2/messages", json={"messageIds": ids})
    assert response.json() == {"cancelled": 5}
    for message_id in ids:
        assert wait_for_state(qstash, message_id, "CANCELED", timeout=10)[-1] == "CANCELED"
    time.sleep(2)
    assert sink.received("/bulk/") == []
    for message_id in ids:
        assert events(qstash, message_id)[-1] == "CANCELED"


def test_a_claimed_ahead_message_not_cancelled_is_still_delivered_on_time(qstash, sink):
    sent = time.time()
    message_id = publish(qstash, f"{sink.url}/kept", b"x", Upstash_Delay="1s")
    [arrival] = sink.wait_for(1, "/kept", timeout=10)
    assert arrival.at - sent >= 0.95
    assert wait_for_state(qstash, message_id, "DELIVERED")[-1] == "DELIVERED"
