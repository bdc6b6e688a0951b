"""On the production stack, one tenant flooding a slow destination leaves slots for the others."""

from __future__ import annotations

import time
from types import SimpleNamespace

import pytest

from tests.e2e.helpers import publish, wait_for_state
from tests.support import http_client
from tests.support.services import require_services
from tests.support.sink import start_sink

pytestmark = pytest.mark.services

SLOW_SECONDS = 4
CONCURRENCY = 4  # per worker process; one worker with two pool processes: 8 slots in all


@pytest.fixture(scope="module")
def stack():
    require_services()
    from tests.support.stack import drop_stack, start_stack

    # One message per task, so the flood spreads over every pool process.
    stack = start_stack(workers=1, dispatchers=1, env={
        "QSTASH_DELIVERY_CONCURRENCY": str(CONCURRENCY), "QSTASH_DELIVERY_BATCH_SIZE": "1"})
    yield stack
    drop_stack(stack)


def test_a_slow_flood_does_not_delay_another_tenants_message(stack, sink):
    other = SimpleNamespace(url=stack.url, auth={"Authorization": "Bearer " + stack.manage(
        "qstash_create_token", "--tenant", "fairness-other", "--quiet").strip()})
    headers = {"Upstash-Timeout": f"{SLOW_SECONDS + 2}s", "Upstash-Retries": "0"}
    items = [{"destination": f"{sink.url}/sleep/{SLOW_SECONDS}", "body": str(i),
              "headers": headers} for i in range(CONCURRENCY * 2 * 4)]
    response = http_client.post(f"{stack.url}/v2/batch", json=items, headers=stack.auth, timeout=30)
    assert response.status_code == 200, response.text
    sink.wait_for(CONCURRENCY, "/sleep/", timeout=20)  # the flood's requests are out
    time.sleep(0.5)
    fast = start_sink()  # another host:port than the slow one
    try:
        published_at = time.time()
        message_id = publish(other, f"{fast.url}/b", "b")
        [arrival] = fast.wait_for(1, "/b", timeout=SLOW_SECONDS * 4)
        latency = arrival.at - published_at
        print(f"other tenant's message arrived {latency:.3f} s after its publish")
        assert latency < 1, f"the other tenant's message took {latency:.2f} s"
        wait_for_state(other, message_id, "DELIVERED", timeout=10)
    finally:
        fast.close()
