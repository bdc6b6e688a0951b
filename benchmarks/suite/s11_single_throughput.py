"""Sustained single-message throughput: many clients, one due-now message each, closed loop."""

from __future__ import annotations

import time

from .client import publish_for, run_async
from .common import CpuMeter, fmt, format_cpu, median, percentile
from .single import BaselineStack, Sampler, server_roles, split_ms
from .stack import ProdStack

CLIENTS = 64
HEADERS = {"Content-Type": "application/json"}
TARGET = 1500


def run_once(stack, sink, seconds: float, timeout: float, tag: str) -> dict:
    """``CLIENTS`` clients publish for ``seconds``; then wait for every accepted message to
    arrive at the sink. Arrivals are counted by nginx (stub_status), sampled every 0.1 s."""
    destination = f"{sink.url}/single/{tag}"
    meter = CpuMeter(stack.roles)
    sampler = Sampler(sink.requests, interval=0.1)
    base = sink.requests()
    meter.begin()
    sampler.start()
    started = time.time()
    published = run_async(publish_for(stack.url, stack.auth, destination, HEADERS, seconds,
                                      CLIENTS))
    stopped = time.time()
    try:
        if published["errors"]:
            raise RuntimeError(f"publish errors: {published['errors'][:3]}")
        accepted = published["ok"]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and (
                not sampler.samples or sampler.samples[-1][1] - base < accepted):
            time.sleep(0.1)
    finally:
        sampler.stop()
    cpu = meter.end()
    done_at, count = next(((at, value) for at, value in sampler.samples
                           if value - base >= accepted), sampler.samples[-1])
    arrived = count - base
    # Arrivals while the clients were publishing, after a fifth of the run to warm up.
    warm = started + seconds / 5
    steady = (sampler.value_at(stopped) - sampler.value_at(warm)) / max(stopped - warm, 1e-9)
    ms = [x * 1000 for x in published["latencies"]]
    server_ms, all_ms = split_ms(meter, arrived, server_roles(stack))
    return {"accepted": accepted, "arrived": arrived, "accept_rate": accepted / (stopped - started),
            "steady": steady, "rate": arrived / (done_at - started), "elapsed": done_at - started,
            "backlog": accepted - (sampler.value_at(stopped) - base),
            "api_p50": percentile(ms, 50), "api_p99": percentile(ms, 99),
            "server_ms": server_ms, "all_ms": all_ms, "cpu": format_cpu(cpu)}


def measure(stack, ctx, tag: str) -> list[dict]:
    run_once(stack, ctx.sink, 2, ctx.e2e_timeout, f"{tag}-warmup")
    return [run_once(stack, ctx.sink, ctx.closed_seconds, ctx.e2e_timeout, f"{tag}{index}")
            for index in range(ctx.quick_runs)]


def table(samples: list[dict]) -> str:
    rows = "\n".join(
        f"| {i + 1} | {s['accepted']:,} | {s['arrived']:,} | {fmt(s['accept_rate'])} | "
        f"{fmt(s['steady'])} | {s['backlog']:,} | {s['elapsed']:.1f} | **{fmt(s['rate'])}** | "
        f"{s['api_p50']:.1f} | {s['api_p99']:.1f} | {s['server_ms']:.2f} | {s['all_ms']:.2f} |"
        for i, s in enumerate(samples))
    return ("| run | accepted | arrived | accepted/s | arrivals/s while publishing | backlog when "
            "publishing stopped | all arrived after (s) | msg/s end to end | API p50 ms | API "
            "p99 ms | server CPU ms per message | all-in CPU ms per message |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n" + rows)


def run(ctx) -> dict:
    stack = ProdStack(ctx.template, web_workers=2, web_threads=4).start()
    try:
        ours, ours_settings = measure(stack, ctx, "closed-"), stack.settings
    finally:
        stack.stop()
    baseline = BaselineStack().start(ctx.sink)
    try:
        base = measure(baseline, ctx, "closed-base-")
    finally:
        baseline.stop()
    rate, base_rate = median([s["rate"] for s in ours]), median([s["rate"] for s in base])
    ms, base_ms = median([s["server_ms"] for s in ours]), median([s["server_ms"] for s in base])
    ratio = rate / base_rate
    details = (
        f"{CLIENTS} clients (aiohttp on uvloop, keep-alive), each sending `POST /v2/publish/"
        f"<nginx>/single/...` with one due-now message and the next as soon as the answer "
        f"came, for {ctx.closed_seconds:g} s; then the run waits for every accepted message to "
        "arrive. msg/s end to end = arrivals ÷ (first send → last arrival), so a backlog left "
        "when the clients stop counts against it.\n\n"
        f"This server ({ours_settings}):\n\n{table(ours)}\n\n"
        f"CPU during the last run: {ours[-1]['cpu']}.\n\n"
        f"Plain-Celery baseline ({baseline.settings}), the same clients against its view:\n\n"
        f"{table(base)}\n\nCPU during the last run: {base[-1]['cpu']}.")
    return {
        "rows": [(f"Single-message throughput, closed loop, {CLIENTS} clients, due now, end to "
                  "end", f"{fmt(rate)} msg/s", f"≥ {TARGET:,} msg/s and ≥ 3× baseline",
                  f"{ratio:.2f}× baseline's {fmt(base_rate)} msg/s; server CPU per message "
                  f"{ms:.2f} vs {base_ms:.2f} ms", rate >= TARGET and ratio >= 3)],
        "details": details,
    }
