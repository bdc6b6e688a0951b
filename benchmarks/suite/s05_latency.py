"""Publish→arrival latency of due-now messages at a steady 200 msg/s, timed by nginx's $msec."""

from __future__ import annotations

import threading
import time

from . import profile
from .baseline_timing import latency_runs
from .client import publish_open_loop, run_async
from .common import CpuMeter, fmt, format_cpu, median, percentile
from .stack import ProdStack, per_message

RATE = 200


def run_once(stack, sink, tag: str, seconds: float) -> dict:
    count = int(RATE * seconds)
    prefix = f"/timed/latency-{tag}/"
    destination = sink.url + prefix + "hook"

    def request_for(_index: int):
        # Stamped as the publish request leaves; nginx logs it next to the arrival time.
        return destination, {"Content-Type": "application/json",
                             "Upstash-Forward-X-Sent-At": f"{time.time():.6f}"}

    published = run_async(publish_open_loop(stack.url, stack.auth, RATE, count, request_for))
    if published["errors"]:
        raise RuntimeError(f"publish errors: {published['errors'][:3]}")
    deadline = time.monotonic() + 45
    while sink.timed_count(prefix) < count and time.monotonic() < deadline:
        time.sleep(0.2)
    rows = sink.timed(prefix)
    ms = [(arrived - sent) * 1000 for arrived, sent, _ in rows if sent is not None]
    api = [x * 1000 for x in published["latencies"]]
    span = (max(r[0] for r in rows) - min(r[1] for r in rows if r[1])) if ms else float("nan")
    return {"arrived": len(rows), "count": count, "p50": percentile(ms, 50),
            "delivery_rate": len(rows) / span if span == span and span > 0 else float("nan"),
            "p99": percentile(ms, 99), "max": max(ms) if ms else float("nan"),
            "api_p50": percentile(api, 50), "api_p99": percentile(api, 99)}


def profile_pass(stack, sink, seconds: float) -> str:
    processes = stack.processes
    roles = {"web server": stack.roles()["web server"][-1], "celery worker": processes["worker1"].pid,
             "dispatcher": processes["dispatcher1"].pid}
    thread = threading.Thread(target=run_once, args=(stack, sink, "profile", seconds), daemon=True)
    thread.start()
    time.sleep(0.5)
    text = profile.finish(profile.start_recording(roles, max(2, seconds - 1)))
    thread.join(120)
    return text


def run(ctx) -> dict:
    runs, seconds = ctx.quick_runs, ctx.steady_seconds
    stack = ProdStack(ctx.template, web_workers=2, web_threads=4).start()
    try:
        run_once(stack, ctx.sink, "warmup", 2)
        counters = stack.db_counters()
        samples, begun = [], time.monotonic()
        for index in range(runs):
            meter = CpuMeter(stack.roles)
            meter.begin()
            samples.append(run_once(stack, ctx.sink, f"run{index}", seconds))
            cpu = meter.end()
            if time.monotonic() - begun > ctx.budget_s / 2:
                break  # a backlog makes each run long: stay within the time budget
        db_work = per_message(counters, stack.db_counters(), sum(s["arrived"] for s in samples))
        profiled = profile_pass(stack, ctx.sink, min(seconds, 5)) if ctx.profile else ""
    finally:
        stack.stop()
    base = latency_runs(ctx, len(samples), seconds, RATE)
    base_p50, base_p99 = median([b["p50"] for b in base]), median([b["p99"] for b in base])
    p50 = median([s["p50"] for s in samples])
    p99 = median([s["p99"] for s in samples])
    table = "\n".join(
        f"| {i + 1} | {s['arrived']:,} / {s['count']:,} | {s['p50']:.1f} | {s['p99']:.1f} | "
        f"{s['max']:.1f} | {s['api_p50']:.1f} | {s['api_p99']:.1f} | {fmt(s['delivery_rate'])} |"
        for i, s in enumerate(samples))
    details = (f"{RATE} publishes/s for {seconds:g} s, one `POST /v2/publish/<nginx>/timed/...` "
               "each (open loop, aiohttp), due now, header `Upstash-Forward-X-Sent-At: <time of "
               "sending>`; nginx logs `$msec $http_x_sent_at` on arrival. Settings: "
               f"{stack.settings}.\n\n"
               "| run | arrived | publish→arrival p50 ms | p99 ms | max ms | publish API p50 ms "
               "| API p99 ms | arrivals/s (first send → last arrival) |\n"
               "|---|---|---|---|---|---|---|---|\n" + table +
               f"\n\nCPU during the last run: {format_cpu(cpu)}.\n\n{db_work}\n\n"
               "Plain-Celery baseline at the same rate (`post_webhook.delay(url, body, "
               "{'X-Sent-At': now})`, `-c 2` worker):\n\n| run | arrived | send→arrival p50 ms "
               "| p99 ms |\n|---|---|---|---|\n" + "\n".join(
                   f"| {i + 1} | {b['arrived']:,} / {b['count']:,} | {b['p50']:.1f} | "
                   f"{b['p99']:.1f} |" for i, b in enumerate(base)))
    if profiled:
        details += ("\n\nProfile (py-spy, 100 Hz, during an extra unscored run at the same "
                    "rate):\n\n" + profiled)
    return {
        "rows": [("Publish→arrival latency p50, due now, 200 msg/s", f"{p50:.1f} ms", "≤ 20 ms",
                  f"{p50 / base_p50:.2f}× baseline's {base_p50:.1f} ms", p50 <= 20),
                 ("Publish→arrival latency p99, due now, 200 msg/s", f"{p99:.1f} ms", "≤ 100 ms",
                  f"{p99 / base_p99:.2f}× baseline's {base_p99:.1f} ms", p99 <= 100)],
        "details": details,
    }
