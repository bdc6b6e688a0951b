"""Single-message publish API on ONE web server process: max req/s, and p99 at a steady 200 req/s."""

from __future__ import annotations

import threading
import time

from . import profile
from .client import get_closed_loop, publish_closed_loop, publish_open_loop, run_async
from .common import CpuMeter, fmt, format_cpu, median, percentile
from .stack import ProdStack, per_message, web_settings

DELAYED = {"Upstash-Delay": "1h", "Content-Type": "application/json"}
THREADS, CONNECTIONS = 8, 32
# The framework's own floor on the same server: the API's JSON 404 for an unknown path, which
# goes through the same middleware and URL resolver, without authentication or database.
FLOOR_PATH = "/v2/no-such-endpoint"


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


def measure(ctx, server: str, *, with_steady: bool) -> dict:
    runs, total = ctx.quick_runs, ctx.publish_requests
    stack = ProdStack(ctx.template, web_workers=1, web_threads=THREADS, web_server=server).start()
    destination = ctx.sink.url + "/delayed/hook"
    out: dict = {"server": server, "settings": web_settings(server, 1, THREADS), "profile": ""}
    try:
        saturate(stack, destination, 500)  # warm-up
        out["fast"], counters = [], stack.db_counters()
        for _ in range(runs):
            meter = CpuMeter(stack.roles)
            meter.begin()
            out["fast"].append(saturate(stack, destination, total))
            out["cpu"] = meter.end()
        out["db_work"] = per_message(counters, stack.db_counters(), total * len(out["fast"]))
        out["floor"] = median([run_async(get_closed_loop(stack.url + FLOOR_PATH, total,
                                                         CONNECTIONS, status=404))
                               for _ in range(runs)])
        out["rate"] = median([f["rate"] for f in out["fast"]])
        if with_steady:
            out["slow"] = [steady(stack, destination, 200, ctx.steady_seconds)
                           for _ in range(runs)]
        if with_steady and ctx.profile:
            thread = threading.Thread(target=saturate, args=(stack, destination, total),
                                      daemon=True)
            thread.start()
            time.sleep(0.3)
            worker_pid = stack.roles()["web server"][-1]
            out["profile"] = profile.finish(
                profile.start_recording({"web server worker": worker_pid}, 4))
            thread.join(120)
    finally:
        stack.stop()
    return out


def run(ctx) -> dict:
    main = measure(ctx, "granian", with_steady=True)
    other = measure(ctx, "gunicorn", with_steady=False)
    rate, floor, runs = main["rate"], main["floor"], ctx.quick_runs
    p99 = median([s["p99"] for s in main["slow"]])
    fast_rows = "\n".join(
        f"| {m['settings']} | {i + 1} | {ctx.publish_requests:,} | {fmt(f['rate'])} | "
        f"{percentile(f['latencies'], 50) * 1000:.1f} | {percentile(f['latencies'], 99) * 1000:.1f} |"
        for m in (main, other) for i, f in enumerate(m["fast"]))
    slow_rows = "\n".join(
        f"| {i + 1} | {fmt(s['achieved'])} | {s['p50']:.1f} | {s['p99']:.1f} | {s['max']:.1f} | "
        f"{s['lag_p99']:.1f} |" for i, s in enumerate(main["slow"]))
    floors = "; ".join(f"{m['settings']}: {fmt(m['floor'])} req/s, so a publish costs "
                       f"{m['floor'] / m['rate']:.1f}× that request" for m in (main, other))
    details = (f"One web server process (`--workers 1` / `-w 1`, {THREADS} threads) plus the usual "
               "worker and dispatcher. Every request is `POST /v2/publish/<nginx>/delayed/hook` "
               "with `Upstash-Delay: 1h`, so no delivery competes for the CPU; client: aiohttp on "
               f"uvloop, {CONNECTIONS} keep-alive connections. The README's server (granian) and "
               "gunicorn's threaded worker, one after the other in this run:\n\n"
               "| server | run (closed loop) | requests | req/s | p50 ms | p99 ms |\n"
               f"|---|---|---|---|---|---|\n{fast_rows}\n\n"
               f"The framework's floor, `GET {FLOOR_PATH}` (the API's JSON 404: same middleware "
               f"and URL resolver, no token check, no database), same client, median of {runs}: "
               f"{floors}.\n\nCPU during the last granian closed-loop run: "
               f"{format_cpu(main['cpu'])}.\n\n"
               f"{main['db_work'].replace('per message', 'per publish request')}\n\n"
               f"| run (open loop, 200 req/s for {ctx.steady_seconds:g} s, granian) | achieved "
               "req/s | p50 ms | p99 ms | max ms | client lag p99 ms |\n|---|---|---|---|---|---|\n"
               f"{slow_rows}\n\nOpen-loop latency counts from each request's scheduled start.")
    if main["profile"]:
        details += ("\n\nProfile of the web server worker (py-spy, 4 s, closed loop):\n\n" +
                    main["profile"])
    return {
        "rows": [("Single-message publish, one server process, keep-alive", f"{fmt(rate)} req/s",
                  "≥ 1,000 req/s", f"{rate / ctx.limit_rate:.2f}× limit; {rate / floor:.2f}× the "
                  f"same server's JSON 404 ({fmt(floor)} req/s); gunicorn gthread "
                  f"{fmt(other['rate'])} req/s", rate >= 1000),
                 ("Single-message publish p99 at a steady 200 req/s", f"{p99:.1f} ms", "< 20 ms",
                  "—", p99 < 20)],
        "details": details,
    }
