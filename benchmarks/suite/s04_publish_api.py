"""Single-message publish API on ONE gunicorn process: max req/s, and p99 at a steady 200 req/s."""

from __future__ import annotations

import threading
import time

from . import profile
from .client import get_closed_loop, publish_closed_loop, publish_open_loop, run_async
from .common import CpuMeter, fmt, format_cpu, median, percentile
from .stack import ProdStack, per_message

DELAYED = {"Upstash-Delay": "1h", "Content-Type": "application/json"}
THREADS, CONNECTIONS = 8, 32


def saturate(stack, destination: str, total: int) -> dict:
    result = run_async(publish_closed_loop(stack.url, stack.auth, destination, DELAYED, total,
                                           CONNECTIONS))
    if result["errors"]:
        raise RuntimeError(f"publish errors: {result['errors'][:3]}")
    result["rate"] = total / result["elapsed"]
    return result


def steady(stack, destination: str, rate: float, seconds: float) -> dict:
    count = int(rate * seconds)
    result = run_async(publish_open_loop(stack.url, stack.auth, rate, count,
                                         lambda i: (destination, DELAYED)))
    if result["errors"]:
        raise RuntimeError(f"publish errors: {result['errors'][:3]}")
    ms = [x * 1000 for x in result["latencies"]]
    return {"p50": percentile(ms, 50), "p99": percentile(ms, 99), "max": max(ms),
            "achieved": count / result["elapsed"], "lag_p99": percentile(result["lag"], 99) * 1000}


def run(ctx) -> dict:
    runs, total = ctx.quick_runs, ctx.publish_requests
    stack = ProdStack(ctx.template, web_workers=1, web_threads=THREADS).start()
    destination = ctx.sink.url + "/delayed/hook"
    try:
        saturate(stack, destination, 500)  # warm-up
        fast, cpu, counters = [], {}, stack.db_counters()
        for _ in range(runs):
            meter = CpuMeter(stack.roles)
            meter.begin()
            fast.append(saturate(stack, destination, total))
            cpu = meter.end()
        db_work = per_message(counters, stack.db_counters(), total * len(fast))
        # The framework's own floor on this server: Django answering 404 through the same
        # middleware, no view, no database.
        floor = median([run_async(get_closed_loop(stack.url + "/no-such-page", total,
                                                  CONNECTIONS)) for _ in range(runs)])
        slow = [steady(stack, destination, 200, ctx.steady_seconds) for _ in range(runs)]
        profiled = ""
        if ctx.profile:
            thread = threading.Thread(target=saturate, args=(stack, destination, total),
                                      daemon=True)
            thread.start()
            time.sleep(0.3)
            worker_pid = stack.roles()["gunicorn"][-1]
            profiled = profile.finish(profile.start_recording({"gunicorn worker": worker_pid}, 4))
            thread.join(120)
    finally:
        stack.stop()
    rate = median([f["rate"] for f in fast])
    p99 = median([s["p99"] for s in slow])
    fast_rows = "\n".join(
        f"| {i + 1} | {total:,} | {fmt(f['rate'])} | {percentile(f['latencies'], 50) * 1000:.1f} | "
        f"{percentile(f['latencies'], 99) * 1000:.1f} |" for i, f in enumerate(fast))
    slow_rows = "\n".join(
        f"| {i + 1} | {fmt(s['achieved'])} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | "
        f"{s['lag_p99']:.1f} |" for i, s in enumerate(slow))
    details = (f"Server: gunicorn `-w 1 -k gthread --threads {THREADS} --keep-alive 75` "
               "(one process)"
               f" plus the usual worker and dispatcher. Every request is `POST /v2/publish/"
               f"<nginx>/delayed/hook` with `Upstash-Delay: 1h`, so no delivery competes for the "
               f"CPU; client: aiohttp on uvloop, {CONNECTIONS} keep-alive connections.\n\n"
               "| run (closed loop) | requests | req/s | p50 ms | p99 ms |\n|---|---|---|---|---|\n"
               f"{fast_rows}\n\nThe same server answering `GET /no-such-page` (Django's 404 "
               f"through the same middleware: no view, no database) with the same client: "
               f"{fmt(floor)} req/s (median of {runs}); a publish costs "
               f"{floor / rate:.1f}× that request.\n\n"
               f"CPU during the last closed-loop run: {format_cpu(cpu)}.\n\n"
               f"{db_work.replace('per message', 'per publish request')}\n\n"
               f"| run (open loop, 200 req/s for {ctx.steady_seconds:g} s) | achieved req/s | "
               "p50 ms | p99 ms | max ms | client lag p99 ms |\n|---|---|---|---|---|---|\n"
               f"{slow_rows}\n\nOpen-loop latency counts from each request's scheduled start.")
    if profiled:
        details += "\n\nProfile of the gunicorn worker (py-spy, 4 s, closed loop):\n\n" + profiled
    return {
        "rows": [("Single-message publish, one server process, keep-alive", f"{fmt(rate)} req/s",
                  "≥ 1,000 req/s", f"{rate / ctx.limit_rate:.2f}× limit; {rate / floor:.2f}× the same "
                  f"server's bare Django 404 ({fmt(floor)} req/s)", rate >= 1000),
                 ("Single-message publish p99 at a steady 200 req/s", f"{p99:.1f} ms", "< 20 ms",
                  "—", p99 < 20)],
        "details": details,
    }
