"""Plain-Celery counterparts of the timing scenarios: steady-rate latency, same-second burst."""

from __future__ import annotations

import math
import time
from datetime import datetime, timezone

from .client import BODY
from .common import percentile, stop
from .s02_celery_baseline import flush_broker, start_worker


def _wait_arrivals(sink, prefix: str, count: int, deadline: float) -> list:
    while sink.timed_count(prefix) < count and time.time() < deadline:
        time.sleep(0.2)
    return sink.timed(prefix)


def latency_runs(ctx, runs: int, seconds: float, rate: float) -> list[dict]:
    """`post_webhook.delay()` at a steady rate; arrival − send time, as for the server."""
    from .baseline_app import post_webhook

    flush_broker()
    worker = start_worker(ctx.sink, "baseline-latency-worker")
    results = []
    try:
        for index in range(runs):
            prefix = f"/timed/baseline-latency-{index}/"
            url = ctx.sink.url + prefix + "hook"
            count = int(rate * seconds)
            started = time.perf_counter()
            for i in range(count):
                delay = started + i / rate - time.perf_counter()
                if delay > 0:
                    time.sleep(delay)
                post_webhook.delay(url, BODY, {"X-Sent-At": f"{time.time():.6f}"})
            rows = _wait_arrivals(ctx.sink, prefix, count, time.time() + 45)
            ms = [(arrived - sent) * 1000 for arrived, sent, _ in rows if sent is not None]
            results.append({"arrived": len(rows), "count": count, "p50": percentile(ms, 50),
                            "p99": percentile(ms, 99)})
    finally:
        stop(worker)
        flush_broker()
    return results


def burst_runs(ctx, runs: int, total: int, lead: int) -> list[dict]:
    """`post_webhook.apply_async(eta=<a second ahead>)` × total; lateness of the arrivals."""
    from .baseline_app import post_webhook

    flush_broker()
    worker = start_worker(ctx.sink, "baseline-burst-worker")
    results = []
    try:
        for index in range(runs):
            prefix = f"/timed/baseline-burst-{index}/"
            url = ctx.sink.url + prefix + "hook"
            due = math.ceil(time.time()) + lead
            eta = datetime.fromtimestamp(due, timezone.utc)
            for _ in range(total):
                post_webhook.apply_async((url, BODY), eta=eta)
            margin = due - time.time()
            rows = _wait_arrivals(ctx.sink, prefix, total, due + 90)
            late = [max(0.0, arrived - due) for arrived, _, _ in rows]
            results.append({"arrived": len(rows), "p50": percentile(late, 50),
                            "p99": percentile(late, 99), "margin": margin})
    finally:
        stop(worker)
        flush_broker()
    return results
