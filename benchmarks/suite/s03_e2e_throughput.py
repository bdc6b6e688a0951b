"""End-to-end throughput: /v2/batch of 100 → signed delivery to nginx → status 'delivered'."""

from __future__ import annotations

import threading
import time

from . import profile
from .client import BODY, Poller, publish_batches, run_async
from .common import CpuMeter, fmt, format_cpu, median
from .stack import ProdStack, per_message


def items(sink_url: str, tag: str, count: int) -> list[dict]:
    return [{"destination": f"{sink_url}/e2e/{tag}", "body": BODY} for _ in range(count)]


def run_once(stack: ProdStack, sink, total: int, timeout: float, tag: str) -> dict:
    base, arrivals_before = stack.delivered(), sink.requests()
    poller = Poller(stack.delivered, base + total, timeout)
    payload = items(sink.url, tag, total)
    started = time.time()
    poller.start()
    published = run_async(publish_batches(stack.url, stack.auth, payload, 100, concurrency=4))
    poller.join(timeout + 5)
    if poller.error:
        raise poller.error
    if published["errors"]:
        raise RuntimeError(f"publish errors: {published['errors'][:3]}")
    last_at, delivered = poller.samples[-1]
    delivered -= base
    t10, t90 = (poller.time_of(f, base, total) for f in (0.1, 0.9))
    return {"rate": delivered / (last_at - started), "delivered": delivered,
            "publish_s": published["elapsed"], "elapsed_s": last_at - started,
            "steady": 0.8 * total / (t90 - t10) if t10 and t90 and t90 > t10 else float("nan"),
            "arrived": sink.requests() - arrivals_before}


def profile_pass(stack: ProdStack, sink, total: int, seconds: float) -> str:
    """An extra, unscored run with py-spy attached to every server process."""
    processes = stack.processes
    roles = {"web server": stack.roles()["web server"][-1], "celery worker": processes["worker1"].pid,
             "dispatcher": processes["dispatcher1"].pid}
    result: dict = {}
    thread = threading.Thread(target=lambda: result.update(
        run_once(stack, sink, total, 120, "profile")), daemon=True)
    thread.start()
    time.sleep(0.5)
    handles = profile.start_recording(roles, seconds)
    text = profile.finish(handles)
    thread.join(130)
    return text


def run(ctx) -> dict:
    sink, total, runs = ctx.sink, ctx.e2e_messages, ctx.quick_runs
    stack = ProdStack(ctx.template, web_workers=2, web_threads=4).start()
    try:
        run_once(stack, sink, 500, 60, "warmup")
        counters = stack.db_counters()
        samples = []
        for index in range(runs):
            meter = CpuMeter(stack.roles)
            meter.begin()
            samples.append(run_once(stack, sink, total, ctx.e2e_timeout, f"run{index}"))
            cpu = meter.end()
            samples[-1]["cpu_ms"] = meter.ms_per(samples[-1]["delivered"])
            spent = sum(s["elapsed_s"] for s in samples)
            if samples[-1]["delivered"] < total or spent + samples[-1]["elapsed_s"] > ctx.budget_s:
                break  # too slow to repeat within the time budget
        db_work = per_message(counters, stack.db_counters(), sum(s["delivered"] for s in samples))
        profiled = profile_pass(stack, sink, total // 2, 8) if ctx.profile else ""
    finally:
        stack.stop()
    rate = median([s["rate"] for s in samples])
    ratio = rate / ctx.baseline_rate
    table = "\n".join(
        f"| {i + 1} | {s['delivered']:,} / {total:,} | {s['arrived']:,} | {s['publish_s']:.1f} | "
        f"{s['elapsed_s']:.1f} | {fmt(s['rate'])} | {fmt(s['steady'])} | {s['cpu_ms']:.2f} |"
        for i, s in enumerate(samples))
    cpu_ms = median([s["cpu_ms"] for s in samples])
    details = ("| run | delivered (DB) | arrivals at nginx | publishing took (s) | "
               "all delivered after (s) | msg/s end to end | msg/s between 10% and 90% | "
               "CPU ms per message |\n|---|---|---|---|---|---|---|---|\n" + table +
               f"\n\nSettings: {stack.settings}; publisher: 4 concurrent `POST /v2/batch` of "
               f"100 (aiohttp); delivered counted by polling PostgreSQL every 0.25 s.\n\n"
               f"CPU during the last run: {format_cpu(cpu)}.\n\nCPU per message (all of this "
               f"run's processes, client and kernel included; other users of the machine left "
               f"out): {cpu_ms:.2f} ms vs {ctx.baseline_cpu_ms:.2f} ms for the plain-Celery "
               f"baseline (baseline ÷ this server = {ctx.baseline_cpu_ms / cpu_ms:.2f}).\n\n"
               + db_work)
    if profiled:
        details += ("\n\nProfile (py-spy, 100 Hz, 8 s, during an extra unscored run of "
                    f"{total // 2:,} messages):\n\n" + profiled)
    return {
        "rows": [(f"End-to-end throughput, {total:,} messages via /v2/batch",
                  f"{fmt(rate)} msg/s", "≥ 2× baseline",
                  f"{ratio:.2f}× baseline, {rate / ctx.limit_rate:.2f}× limit (CPU per message "
                  f"{cpu_ms:.2f} ms vs baseline {ctx.baseline_cpu_ms:.2f} ms)", ratio >= 2)],
        "details": details,
    }
