"""Flow control: rate and parallelism limits per key, waitlist and management endpoints."""

from __future__ import annotations

import pytest

from tests.e2e.helpers import api, publish
from tests.routing.test_queues import max_overlap

pytestmark = pytest.mark.django_db(transaction=True)


def most_in_any_window(arrivals, window: float) -> int:
    times = sorted(a.at for a in arrivals)
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_rate_limit_holds_in_every_sliding_window(qstash, sink):
    for i in range(15):
        publish(qstash, f"{sink.url}/rated", str(i), Upstash_Flow_Control_Key="rated",
                Upstash_Flow_Control_Value="rate=5, period=1s")
    arrivals = sink.wait_for(15, "/rated", timeout=30)
    assert most_in_any_window(arrivals, 1.0) <= 5, [round(a.at - arrivals[0].at, 3) for a in arrivals]
    assert arrivals[-1].at - arrivals[0].at >= 2.0


def test_parallelism_limit_and_waitlist(qstash, sink):
    for i in range(6):
        publish(qstash, f"{sink.url}/sleep/0.4", str(i), Upstash_Flow_Control_Key="narrow",
                Upstash_Flow_Control_Value="parallelism=2")
    sink.wait_for(2, timeout=10)
    state = api(qstash, "GET", "/v2/flowControl/narrow").json()
    assert state["parallelismMax"] == 2 and state["waitListSize"] >= 1
    arrivals = sink.wait_for(6, timeout=30)
    assert max_overlap(arrivals, 0.4) == 2


def test_management_endpoints(qstash, sink):
    publish(qstash, f"{sink.url}/fc", "x", Upstash_Flow_Control_Key="managed",
            Upstash_Flow_Control_Value="parallelism=3,rate=10,period=1m")
    # Sent before the pause and the pin: sent later, it would take one of the two slots a
    # minute the pin leaves for the two paused messages below.
    sink.wait_for(1, "/fc", timeout=10)
    state = api(qstash, "GET", "/v2/flowControl/managed").json()
    assert (state["parallelismMax"], state["rateMax"], state["ratePeriod"]) == (3, 10, 60)
    api(qstash, "POST", "/v2/flowControl/managed/pause")
    publish(qstash, f"{sink.url}/paused", "x", Upstash_Flow_Control_Key="managed",
            Upstash_Flow_Control_Value="parallelism=3,rate=10,period=1m")
    assert api(qstash, "GET", "/v2/flowControl/managed").json()["isPaused"] is True
    api(qstash, "POST", "/v2/flowControl/managed/pin", params={"parallelism": 1, "rate": 2})
    pinned = api(qstash, "GET", "/v2/flowControl/managed").json()
    assert (pinned["parallelismMax"], pinned["rateMax"], pinned["isPinnedParallelism"],
            pinned["isPinnedRate"], pinned["rateCount"]) == (1, 2, True, True, 0)
    # A pinned key ignores the config new messages bring.
    publish(qstash, f"{sink.url}/paused", "x", Upstash_Flow_Control_Key="managed",
            Upstash_Flow_Control_Value="parallelism=9")
    assert api(qstash, "GET", "/v2/flowControl/managed").json()["parallelismMax"] == 1
    api(qstash, "POST", "/v2/flowControl/managed/unpin", params={"parallelism": "true"})
    after = api(qstash, "GET", "/v2/flowControl/managed").json()
    assert after["isPinnedParallelism"] is False and after["isPinnedRate"] is True
    api(qstash, "POST", "/v2/flowControl/managed/resume")
    sink.wait_for(2, "/paused", timeout=10)
    api(qstash, "POST", "/v2/flowControl/managed/resetRate")
    assert api(qstash, "GET", "/v2/flowControl/managed").json()["rateCount"] == 0
    keys = api(qstash, "GET", "/v2/flowControl", params={"search": "manag"}).json()
    assert [k["flowControlKey"] for k in keys] == ["managed"]
    glob = api(qstash, "GET", "/v2/globalParallelism").json()
    assert set(glob) == {"parallelismMax", "parallelismCount"}
    assert api(qstash, "GET", "/v2/flowControl/unknown").status_code == 404
    assert api(qstash, "POST", "/v2/flowControl/managed/pin").status_code == 400
