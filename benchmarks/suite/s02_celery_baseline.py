"""Plain-Celery baseline: enqueue N requests.post tasks, count their arrivals at the sink."""

from __future__ import annotations

import os
import time

import redis

from .common import (
    PYTHON,
    REDIS_BASE,
    REDIS_BASELINE_DB,
    CpuMeter,
    descendants,
    fmt,
    format_cpu,
    median,
    on_cleanup,
    start,
    stop,
)

BROKER = f"{REDIS_BASE}/{REDIS_BASELINE_DB}"
os.environ["BASELINE_BROKER_URL"] = BROKER
BODY = '{"event": "benchmark", "padding": "' + "x" * 100 + '"}'


def flush_broker() -> None:
    redis.Redis.from_url(BROKER).flushdb()


def start_worker(sink, name: str = "baseline-worker", warm: bool = True):
    """`celery worker -c 2` (prefork) on its own Redis database; ready once a task arrived."""
    from .baseline_app import post_webhook

    on_cleanup(flush_broker)
    env = {**os.environ, "BASELINE_BROKER_URL": BROKER, "PYTHONUNBUFFERED": "1"}
    process = start(name, [PYTHON, "-m", "celery", "-A", "benchmarks.suite.baseline_app",
                           "worker", "-c", "2", "-P", "prefork", "-Q", "webhooks",
                           "--without-gossip", "--without-mingle", "-l", "WARNING"], env=env)
    if not warm:
        return process
    before = sink.requests()
    for _ in range(20):  # warm-up, and proof that the pool is up
        post_webhook.delay(sink.url + "/baseline/warmup", BODY)
    count, _ = sink.wait_count(before + 20, timeout=60)
    if count < before + 20:
        stop(process)
        raise RuntimeError("the baseline Celery worker did not start; see its log")
    return process


def run_once(sink, total: int, timeout: float) -> dict:
    from .baseline_app import post_webhook

    url = sink.url + "/baseline/hook"
    before = sink.requests()
    started = time.time()
    for _ in range(total):
        post_webhook.delay(url, BODY)
    enqueued = time.time() - started
    count, seen_at = sink.wait_count(before + total, timeout)
    arrived = count - before
    return {"rate": arrived / (seen_at - started), "arrived": arrived, "enqueue_s": enqueued,
            "elapsed_s": seen_at - started}


def run(ctx) -> dict:
    sink, total, runs = ctx.sink, ctx.baseline_messages, ctx.quick_runs
    flush_broker()
    worker = start_worker(sink)
    try:
        def roles():
            return {"baseline celery worker (main + 2 children)": descendants(worker.pid)}

        samples = []
        for _ in range(runs):
            meter = CpuMeter(roles)
            meter.begin()
            samples.append(run_once(sink, total, timeout=ctx.e2e_timeout))
            cpu = meter.end()
            samples[-1]["cpu_ms"] = meter.ms_per(samples[-1]["arrived"])
            spent = sum(s["elapsed_s"] for s in samples)
            if samples[-1]["arrived"] < total or spent + samples[-1]["elapsed_s"] > ctx.budget_s:
                break  # too slow to repeat within the time budget
    finally:
        stop(worker)
        flush_broker()
    ctx.baseline_rate = median([s["rate"] for s in samples])
    ctx.baseline_cpu_ms = median([s["cpu_ms"] for s in samples])
    rows = "\n".join(f"| {i + 1} | {s['arrived']:,} / {total:,} | {s['enqueue_s']:.1f} | "
                     f"{s['elapsed_s']:.1f} | {fmt(s['rate'])} | {s['cpu_ms']:.2f} |"
                     for i, s in enumerate(samples))
    return {
        "rows": [(f"Plain-Celery baseline, end to end, {total:,} tasks",
                  f"{fmt(ctx.baseline_rate)} msg/s",
                  "reference", f"{ctx.baseline_rate / ctx.limit_rate:.2f}× limit", None)],
        "details": ("| run | arrived | enqueue took (s) | all arrived after (s) | msg/s "
                    "| CPU ms per message |\n|---|---|---|---|---|---|\n" + rows +
                    f"\n\nCPU during the last run: {format_cpu(cpu)}."),
        "notes": ["Baseline: `celery -A benchmarks.suite.baseline_app worker -c 2 -P prefork`, "
                  "Redis broker, one `post_webhook.delay(url, body)` per webhook; the task does "
                  "`requests.post(..., timeout=30)` + `raise_for_status()` with "
                  "`autoretry_for=(RequestException,)`, `retry_backoff=True`, `max_retries=3`."],
    }
