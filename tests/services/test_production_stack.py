"""The production path: granian + Celery workers on Redis + two dispatchers on PostgreSQL."""

from __future__ import annotations

import time
from collections import Counter

import jwt
import pytest

from tests.e2e.helpers import publish, wait_for_state
from tests.support import http_client
from tests.support.services import require_services

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack():
    require_services()
    from tests.support.stack import drop_stack, start_stack

    stack = start_stack(workers=2, dispatchers=2)
    yield stack
    drop_stack(stack)


def test_batch_of_messages_is_delivered_once_each_and_signed(stack, sink):
    items = [{"destination": f"{sink.url}/batch/{i}", "body": f"m{i}"} for i in range(60)]
    response = http_client.post(f"{stack.url}/v2/batch", json=items, headers=stack.auth, timeout=30)
    assert response.status_code == 200, response.text
    ids = [item["messageId"] for item in response.json()]
    arrivals = sink.wait_for(60, "/batch/", timeout=60)
    time.sleep(1)  # any duplicate would show up now
    counts = Counter(a.headers["Upstash-Message-Id"] for a in sink.received("/batch/"))
    assert set(counts) == set(ids) and set(counts.values()) == {1}
    keys = http_client.get(f"{stack.url}/v2/keys", headers=stack.auth).json()
    for arrival in arrivals[:5]:
        claims = jwt.decode(arrival.headers["Upstash-Signature"], keys["current"],
                            algorithms=["HS256"], issuer="Upstash")
        assert claims["sub"] == sink.url + arrival.path
    assert "DELIVERED" in wait_for_state(stack, ids[0], "DELIVERED")


def test_retries_then_dlq_through_celery(stack, sink):
    message_id = publish(stack, f"{sink.url}/status/500", Upstash_Retries="2",
                         Upstash_Retry_Delay="100")
    wait_for_state(stack, message_id, "FAILED")
    assert len(sink.received("/status/500")) == 3
    dlq = http_client.get(f"{stack.url}/v2/dlq", headers=stack.auth).json()["messages"]
    assert [m["responseStatus"] for m in dlq if m["messageId"] == message_id] == [500]


def test_killed_worker_loses_no_message(stack, sink):
    """SIGKILL every worker while one holds a message; the lease hands it to a new worker."""
    # No retries: only the lease can bring this message back after its worker dies. Due in
    # a moment, so a dispatcher claims it and a worker (not the web process) sends it.
    message_id = publish(stack, f"{sink.url}/slowonce/60", Upstash_Retries="0",
                         Upstash_Timeout="3s", Upstash_Delay="1s")
    sink.wait_for(1, "/slowonce/", timeout=30)
    for name in [n for n in list(stack.processes) if n.startswith("worker")]:
        stack.kill(name)
    stack.start_worker("worker-replacement")
    # The lease (3 s timeout + 2 s grace + 5 s pickup allowance) expires, a dispatcher
    # reclaims, the new worker delivers.
    assert wait_for_state(stack, message_id, "DELIVERED", timeout=60)
    arrivals = sink.received("/slowonce/")
    assert len(arrivals) == 2
    assert {a.headers["Upstash-Message-Id"] for a in arrivals} == {message_id}


def test_killed_web_process_loses_no_message_it_was_sending(stack, sink):
    """Due now, the message is sent by the web process that accepted it; SIGKILL that
    process mid-send: the lease brings the message back, and a worker delivers it."""
    from tests.support.stack import wait_until_up

    message_id = publish(stack, f"{sink.url}/slowonce/60?by=web", Upstash_Retries="0",
                         Upstash_Timeout="3s")
    [first] = sink.wait_for(1, "/slowonce/60?by=web", timeout=30)
    stack.kill("web")
    stack.start_web("web-replacement")
    wait_until_up(stack)
    # The lease (3 s timeout + 2 s grace + 5 s pickup allowance) expires, a dispatcher
    # reclaims, a Celery worker delivers.
    assert wait_for_state(stack, message_id, "DELIVERED", timeout=60)
    arrivals = sink.received("/slowonce/60?by=web")
    assert len(arrivals) == 2
    assert {a.headers["Upstash-Message-Id"] for a in arrivals} == {message_id}
    assert arrivals[1].at - first.at >= 5


def enqueue(stack, queue: str, destination: str, body: str) -> str:
    response = http_client.post(f"{stack.url}/v2/enqueue/{queue}/{destination}", content=body.encode(),
                                headers={**stack.auth, "Upstash-Timeout": "3s"}, timeout=30)
    assert response.status_code == 200, response.text
    return response.json()["messageId"]


def test_fifo_holds_across_workers_and_dispatchers(stack, sink):
    for i in range(12):
        enqueue(stack, "stack-fifo", f"{sink.url}/fifo/{i}", str(i))
    arrivals = sink.wait_for(12, "/fifo/", timeout=60)
    assert [a.body.decode() for a in arrivals] == [str(i) for i in range(12)]


def test_fifo_survives_a_killed_worker(stack, sink):
    enqueue(stack, "stack-crash", f"{sink.url}/slowonce/60", "head")
    enqueue(stack, "stack-crash", f"{sink.url}/after", "next")
    sink.wait_for(1, "/slowonce/", timeout=30)
    for name in [n for n in list(stack.processes) if n.startswith("worker")]:
        stack.kill(name)
    stack.start_worker("worker-after-crash")
    [after] = sink.wait_for(1, "/after", timeout=60)
    heads = sink.received("/slowonce/")
    assert len(heads) == 2 and heads[1].at <= after.at  # the head went again, then the next


def publish_flow_controlled(stack, urls: list[str], key: str, value: str) -> None:
    """One batch: a message to each URL (body: its position) under flow-control ``key``."""
    items = [{"destination": url, "body": str(i),
              "headers": {"Upstash-Flow-Control-Key": key, "Upstash-Flow-Control-Value": value}}
             for i, url in enumerate(urls)]
    response = http_client.post(f"{stack.url}/v2/batch", json=items, headers=stack.auth, timeout=30)
    assert response.status_code == 200, response.text


def test_flow_control_rate_with_several_workers(stack, sink):
    """Workers take each rate slot right before sending: arrivals keep to it, at full rate."""
    publish_flow_controlled(stack, [f"{sink.url}/rate/{i}" for i in range(12)],
                            "stack-rate", "rate=4,period=1s")
    times = sorted(a.at for a in sink.wait_for(12, "/rate/", timeout=60))
    offsets = [round(t - times[0], 3) for t in times]
    assert max(sum(1 for t in times if s <= t < s + 1.0) for s in times) <= 4, offsets
    # Three windows' worth: about 2 s at 4 a second; counting a delivery twice would take 5.
    assert offsets[-1] < 4.5, offsets


def test_flow_control_parallelism_with_several_workers(stack, sink):
    """Two workers and two dispatchers, parallelism 2: never more than two requests open."""
    publish_flow_controlled(stack, [f"{sink.url}/sleep/0.5?fc={i}" for i in range(8)],
                            "stack-parallel", "parallelism=2")
    starts = sorted(a.at for a in sink.wait_for(8, "/sleep/0.5", timeout=60))
    # Each request is held open 0.5 s: a start within 0.5 s of two others means three at once.
    open_at_start = [sum(1 for s in starts if t - 0.45 < s <= t) for t in starts]
    assert max(open_at_start) == 2, [round(t - starts[0], 3) for t in starts]


def test_cancelled_claimed_ahead_messages_are_never_sent_by_celery_workers(stack, sink):
    """Claimed ahead, the messages wait in a Celery worker for their due time; a cancel then
    (one by id, the others in bulk) stops them there. The delay leaves a loaded machine time
    to cancel before the due time."""
    one = publish(stack, f"{sink.url}/ahead-one", "x", Upstash_Delay="6s")
    bulk = [publish(stack, f"{sink.url}/ahead-bulk/{i}", "x", Upstash_Delay="6s")
            for i in range(4)]
    kept = publish(stack, f"{sink.url}/ahead-kept", "x", Upstash_Delay="6s")
    time.sleep(0.5)  # the dispatchers (every 0.1 s) have claimed them ahead by now
    states = [wait_for_state(stack, m, "ACTIVE", timeout=5) for m in [one, *bulk]]
    assert all(s[-1] == "ACTIVE" for s in states), states
    cancelled = http_client.delete(f"{stack.url}/v2/messages/{one}", headers=stack.auth)
    assert cancelled.json() == {"cancelled": 1}
    cancelled = http_client.request("DELETE", f"{stack.url}/v2/messages", json={"messageIds": bulk},
                                    headers=stack.auth)
    assert cancelled.json() == {"cancelled": 4}
    sink.wait_for(1, "/ahead-kept", timeout=30)
    for message_id in [one, *bulk]:
        assert wait_for_state(stack, message_id, "CANCELED", timeout=10)[-1] == "CANCELED"
    assert wait_for_state(stack, kept, "DELIVERED")[-1] == "DELIVERED"
    time.sleep(0.5)
    assert sink.received("/ahead-one") == [] and sink.received("/ahead-bulk/") == []
