"""5,000 messages due in the same second (Upstash-Not-Before): lateness of their arrivals."""

from __future__ import annotations

import math
import threading
import time

from . import profile
from .baseline_timing import burst_runs
from .client import BODY, publish_batches, run_async
from .common import CpuMeter, format_cpu, median, percentile
from .stack import ProdStack

LEAD_SECONDS = 6  # the due second is this far ahead when publishing starts


def run_once(stack, sink, total: int, tag: str) -> dict:
    due = math.ceil(time.time()) + LEAD_SECONDS
    prefix = f"/timed/burst-{tag}/"
    items = [{"destination": f"{sink.url}{prefix}hook", "body": BODY,
              "headers": {"Upstash-Not-Before": str(due)}} for _ in range(total)]
    published = run_async(publish_batches(stack.url, stack.auth, items, 100, concurrency=4))
    if published["errors"] or published["accepted"] != total:
        raise RuntimeError(f"{published['accepted']} accepted; errors {published['errors'][:3]}")
    published_at = time.time()
    deadline = due + 90
    while sink.timed_count(prefix) < total and time.time() < deadline:
        time.sleep(0.2)
    arrivals = [arrived for arrived, _, _ in sink.timed(prefix)]
    late = [max(0.0, at - due) for at in arrivals]
    early = sum(1 for at in arrivals if at < due)
    return {"arrived": len(arrivals), "p50": percentile(late, 50), "p99": percentile(late, 99),
            "max": max(late) if late else float("nan"), "early": early,
            "publish_margin": due - published_at}


def profile_pass(stack, sink, total: int) -> str:
    """py-spy on the Celery worker (its children included) from publishing to the last arrival."""
    handles = profile.start_recording({"celery worker": stack.processes["worker1"].pid},
                                      LEAD_SECONDS + 4)
    thread = threading.Thread(target=run_once, args=(stack, sink, total, "profile"), daemon=True)
    thread.start()
    text = profile.finish(handles)
    thread.join(120)
    return text


def run(ctx) -> dict:
    total, runs = ctx.burst_messages, ctx.quick_runs
    stack = ProdStack(ctx.template, web_workers=2, web_threads=4).start()
    try:
        run_once(stack, ctx.sink, 200, "warmup")
        samples = []
        for index in range(runs):
            meter = CpuMeter(stack.roles)
            meter.begin()
            samples.append(run_once(stack, ctx.sink, total, f"run{index}"))
            cpu = meter.end()
        profiled = profile_pass(stack, ctx.sink, total) if ctx.profile else ""
    finally:
        stack.stop()
    base = burst_runs(ctx, len(samples), total, LEAD_SECONDS)
    base_p99 = median([b["p99"] for b in base])
    p99 = median([s["p99"] for s in samples])
    complete = all(s["arrived"] == total for s in samples)
    table = "\n".join(
        f"| {i + 1} | {s['arrived']:,} / {total:,} | {s['publish_margin']:.1f} | {s['p50']:.2f} | "
        f"{s['p99']:.2f} | {s['max']:.2f} | {s['early']} |" for i, s in enumerate(samples))
    details = (f"{total:,} messages published through `/v2/batch` (100 per request, 4 concurrent) "
               f"with `Upstash-Not-Before` = one whole second {LEAD_SECONDS} s or less ahead; "
               "lateness = nginx's `$msec` at arrival − that second. Settings: "
               f"{stack.settings}.\n\n"
               "| run | arrived | publishing finished before the due second (s) | lateness p50 s "
               "| p99 s | max s | arrived early |\n|---|---|---|---|---|---|---|\n" + table +
               "\n\nCPU during the last run (publishing, waiting and the burst): "
               f"{format_cpu(cpu)}."
               "\n\nPlain-Celery baseline: the same count of `post_webhook.apply_async(eta=<that "
               "second>)` to a running `-c 2` worker:\n\n| run | arrived | publishing finished "
               "before the due second (s) | lateness p50 s | p99 s |\n|---|---|---|---|---|\n" +
               "\n".join(f"| {i + 1} | {b['arrived']:,} / {total:,} | {b['margin']:.1f} | "
                         f"{b['p50']:.2f} | {b['p99']:.2f} |" for i, b in enumerate(base)))
    if profiled:
        details += ("\n\nWhere the Celery worker's time went in one more burst (py-spy, "
                    "publishing to last arrival):\n\n" + profiled)
    return {
        "rows": [(f"{total:,} messages due in the same second: p99 lateness", f"{p99:.2f} s",
                  "≤ 1 s", f"{p99 / base_p99:.2f}× baseline's {base_p99:.2f} s" if complete
                  else "not all arrived", p99 <= 1 and complete)],
        "details": details,
    }
