"""One tenant flooding a slow destination leaves delivery slots for every other tenant."""

from __future__ import annotations

import time

from tests.support.sink import start_sink

from .helpers import api, publish, wait_for_state

SLOW_SECONDS = 3


def flood(tenant, slow_url: str, count: int) -> None:
    """``count`` messages that each hold a delivery slot for SLOW_SECONDS: most in one batch
    (they fill the sender's connections), ten published one by one (each its own work item,
    which on their own would fill the in-process worker threads)."""
    headers = {"Upstash-Timeout": f"{SLOW_SECONDS + 2}s", "Upstash-Retries": "0"}
    items = [{"destination": f"{slow_url}/sleep/{SLOW_SECONDS}", "body": str(i),
              "headers": headers} for i in range(count - 10)]
    response = api(tenant, "POST", "/v2/batch", json=items)
    assert response.status_code == 200, response.text
    for i in range(10):
        publish(tenant, f"{slow_url}/sleep/{SLOW_SECONDS}", str(i), **{
            name.replace("-", "_"): value for name, value in headers.items()})


def test_a_slow_flood_does_not_delay_another_tenants_message(qstash, other_tenant, sink):
    fast = start_sink()  # another host:port than the slow one
    try:
        other_tenant.url = qstash.url
        flood(qstash, sink.url, 160)
        sink.wait_for(20, "/sleep/", timeout=10)  # the flood's requests are out
        published_at = time.time()
        message_id = publish(other_tenant, f"{fast.url}/b", "b")
        [arrival] = fast.wait_for(1, "/b", timeout=SLOW_SECONDS * 4)
        latency = arrival.at - published_at
        print(f"other tenant's message arrived {latency:.3f} s after its publish")
        assert latency < 1, f"the other tenant's message took {latency:.2f} s"
        wait_for_state(other_tenant, message_id, "DELIVERED", timeout=5)
    finally:
        fast.close()


def test_a_rate_limited_slow_flood_does_not_delay_another_tenants_message(
        qstash, other_tenant, sink):
    """Rate-limited sends take their tenant's share like any other, before their rate slot."""
    fast = start_sink()
    try:
        other_tenant.url = qstash.url
        slow = SLOW_SECONDS * 2  # the flood's sends trickle out one rate slot at a time
        headers = {"Upstash-Timeout": f"{slow + 2}s", "Upstash-Retries": "0",
                   "Upstash-Flow-Control-Key": "flood",
                   "Upstash-Flow-Control-Value": "rate=1000"}
        items = [{"destination": f"{sink.url}/sleep/{slow}", "body": str(i),
                  "headers": headers} for i in range(110)]
        response = api(qstash, "POST", "/v2/batch", json=items)
        assert response.status_code == 200, response.text
        sink.wait_for(100, "/sleep/", timeout=10)
        published_at = time.time()
        publish(other_tenant, f"{fast.url}/b", "b")
        [arrival] = fast.wait_for(1, "/b", timeout=slow * 2)
        latency = arrival.at - published_at
        print(f"other tenant's message arrived {latency:.3f} s after its publish")
        assert latency < 1, f"the other tenant's message took {latency:.2f} s"
    finally:
        fast.close()
