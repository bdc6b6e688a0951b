"""Queues: management API, strict FIFO with parallelism 1, at most N in flight, pause."""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import api, wait_for_state

pytestmark = pytest.mark.django_db(transaction=True)


def enqueue(qstash, queue: str, destination: str, body: str = "x", **headers) -> str:
    response = api(qstash, "POST", f"/v2/enqueue/{queue}/{destination}", content=body.encode(),
                   headers={k.replace("_", "-"): v for k, v in headers.items()})
    assert response.status_code == 200, response.text
    return response.json()["messageId"]


def max_overlap(arrivals, duration: float) -> int:
    """Largest number of requests whose [arrival, arrival + duration) intervals overlap."""
    points = sorted([(a.at, 1) for a in arrivals] + [(a.at + duration, -1) for a in arrivals])
    current = peak = 0
    for _, delta in points:
        current += delta
        peak = max(peak, current)
    return peak


def test_queue_management(qstash):
    assert api(qstash, "POST", "/v2/queues", json={"queueName": "q1", "parallelism": 3}).status_code == 200
    queue = api(qstash, "GET", "/v2/queues/q1").json()
    assert (queue["name"], queue["parallelism"], queue["paused"], queue["lag"]) == ("q1", 3, False, 0)
    api(qstash, "POST", "/v2/queues", json={"queueName": "q1", "parallelism": 1, "paused": True})
    assert api(qstash, "GET", "/v2/queues/q1").json()["paused"] is True
    api(qstash, "POST", "/v2/queues/q1/resume")
    assert api(qstash, "GET", "/v2/queues/q1").json()["paused"] is False
    api(qstash, "POST", "/v2/queues/q1/pause")
    assert [q["name"] for q in api(qstash, "GET", "/v2/queues").json()] == ["q1"]
    assert api(qstash, "DELETE", "/v2/queues/q1").status_code == 200
    assert api(qstash, "GET", "/v2/queues/q1").status_code == 404
    for bad in ({"queueName": "bad name"}, {"queueName": "q", "parallelism": 0},
                {"queueName": "q", "paused": "yes"}, {}):
        assert api(qstash, "POST", "/v2/queues", json=bad).status_code == 400


def test_enqueue_creates_the_queue_and_rejects_delays(qstash, sink):
    enqueue(qstash, "auto", f"{sink.url}/auto")
    assert api(qstash, "GET", "/v2/queues/auto").json()["parallelism"] == 1
    for header in ({"Upstash-Delay": "10s"}, {"Upstash-Not-Before": str(int(time.time()) + 60)}):
        response = api(qstash, "POST", f"/v2/enqueue/auto/{sink.url}/x", content=b"x",
                       headers=header)
        assert response.status_code == 400 and "enqueue" in response.json()["error"]


def test_parallelism_one_is_strict_fifo(qstash, sink):
    ids = [enqueue(qstash, "fifo", f"{sink.url}/sleep/0.1", body=str(i)) for i in range(8)]
    arrivals = sink.wait_for(8, timeout=30)
    assert [a.body.decode() for a in arrivals] == [str(i) for i in range(8)]
    assert [a.headers["Upstash-Message-Id"] for a in arrivals] == ids
    gaps = [b.at - a.at for a, b in zip(arrivals, arrivals[1:])]
    assert min(gaps) >= 0.1  # the next one started only after the previous answered


def test_fifo_head_blocks_through_its_retries_and_callback(qstash, sink):
    first = enqueue(qstash, "strict", f"{sink.url}/flaky/1", body="first",
                    Upstash_Retry_Delay="300", Upstash_Callback=f"{sink.url}/sleep/0.5")
    enqueue(qstash, "strict", f"{sink.url}/second", body="second")
    [second] = sink.wait_for(1, "/second", timeout=20)
    flaky = sink.received("/flaky/")
    callbacks = sink.received("/sleep/")
    assert len(flaky) == 2 and flaky[1].at < second.at
    # Both callbacks (after the failure and after the success) came before "second".
    assert len(callbacks) == 2 and callbacks[-1].at + 0.5 <= second.at
    assert "DELIVERED" in wait_for_state(qstash, first, "DELIVERED")


def test_parallelism_n_keeps_at_most_n_in_flight(qstash, sink):
    api(qstash, "POST", "/v2/queues", json={"queueName": "wide", "parallelism": 2})
    for i in range(6):
        enqueue(qstash, "wide", f"{sink.url}/sleep/0.4", body=str(i))
    arrivals = sink.wait_for(6, timeout=30)
    assert max_overlap(arrivals, 0.4) == 2


def test_paused_queue_accepts_and_holds_until_resumed(qstash, sink):
    api(qstash, "POST", "/v2/queues", json={"queueName": "held", "paused": True})
    enqueue(qstash, "held", f"{sink.url}/held")
    enqueue(qstash, "held", f"{sink.url}/held")
    time.sleep(0.6)
    assert sink.received("/held") == []
    assert api(qstash, "GET", "/v2/queues/held").json()["lag"] == 2
    api(qstash, "POST", "/v2/queues/held/resume")
    sink.wait_for(2, "/held")


def test_deleting_a_queue_cancels_what_waits_in_it(qstash, sink):
    api(qstash, "POST", "/v2/queues", json={"queueName": "gone", "paused": True})
    message_id = enqueue(qstash, "gone", f"{sink.url}/gone")
    api(qstash, "DELETE", "/v2/queues/gone")
    assert "CANCELED" in wait_for_state(qstash, message_id, "CANCELED")


def test_batch_items_keep_their_order_in_a_fifo_queue(qstash, sink):
    items = [{"destination": f"{sink.url}/ordered", "queue": "batch-fifo", "body": str(i)}
             for i in range(10)]
    assert api(qstash, "POST", "/v2/batch", json=items).status_code == 200
    arrivals = sink.wait_for(10, "/ordered", timeout=20)
    assert [a.body.decode() for a in arrivals] == [str(i) for i in range(10)]
