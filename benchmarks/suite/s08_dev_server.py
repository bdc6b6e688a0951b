"""Dev server (qstash_dev: SQLite, in-process): end-to-end messages/s through /v2/batch."""

from __future__ import annotations

import time

from .client import BODY, publish_batches, run_async
from .common import CpuMeter, fmt, format_cpu, median
from .stack import DevServer


def run_once(dev: DevServer, sink, total: int, timeout: float, tag: str) -> dict:
    base, arrivals_before = dev.delivered(), sink.requests()
    items = [{"destination": f"{sink.url}/dev/{tag}", "body": BODY} for _ in range(total)]
    started = time.time()
    published = run_async(publish_batches(dev.url, dev.auth, items, 100, concurrency=4))
    if published["errors"]:
        raise RuntimeError(f"publish errors: {published['errors'][:3]}")
    # Watch the sink (no lock on the SQLite file), then confirm in the database.
    remaining = timeout - (time.time() - started)
    sink.wait_count(arrivals_before + total, max(remaining, 1), interval=0.1)
    deadline = started + timeout
    delivered = dev.delivered() - base
    while delivered < total and time.time() < deadline:
        time.sleep(0.1)
        delivered = dev.delivered() - base
    elapsed = time.time() - started
    return {"rate": delivered / elapsed, "delivered": delivered, "elapsed_s": elapsed,
            "publish_s": published["elapsed"], "arrived": sink.requests() - arrivals_before}


def run(ctx) -> dict:
    total, runs = ctx.dev_messages, ctx.quick_runs
    dev = DevServer().start()
    try:
        run_once(dev, ctx.sink, 200, 60, "warmup")
        samples = []
        for index in range(runs):
            meter = CpuMeter(dev.roles)
            meter.begin()
            samples.append(run_once(dev, ctx.sink, total, ctx.e2e_timeout, f"run{index}"))
            cpu = meter.end()
            samples[-1]["cpu_ms"] = meter.ms_per(samples[-1]["delivered"])
            if samples[-1]["delivered"] < total:
                break
    finally:
        dev.stop()
    rate = median([s["rate"] for s in samples])
    table = "\n".join(
        f"| {i + 1} | {s['delivered']:,} / {total:,} | {s['arrived']:,} | {s['publish_s']:.1f} | "
        f"{s['elapsed_s']:.1f} | {fmt(s['rate'])} | {s['cpu_ms']:.2f} |"
        for i, s in enumerate(samples))
    details = (f"{dev.settings}, fresh SQLite `DATABASE_URL`, `QSTASH_TOKEN` pinned. {total:,} "
               "messages per run through `/v2/batch` (100 per request, 4 concurrent); done when "
               "the database shows them all delivered.\n\n"
               "| run | delivered (DB) | arrivals at nginx | publishing took (s) | all delivered "
               "after (s) | msg/s | CPU ms per message |\n|---|---|---|---|---|---|---|\n" + table +
               f"\n\nCPU during the last run: {format_cpu(cpu)}.")
    return {
        "rows": [("Dev server (SQLite, in-process) end to end", f"{fmt(rate)} msg/s",
                  "≥ 300 msg/s", f"{rate / ctx.baseline_rate:.2f}× baseline", rate >= 300)],
        "details": details,
    }
