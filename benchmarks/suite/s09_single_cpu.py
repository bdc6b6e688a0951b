"""CPU per single due-now message at 200 msg/s, every server process, vs plain Celery."""

from __future__ import annotations

from .common import median
from .single import both_stacks, timed_table

TARGET_MS = 1.5


def run(ctx) -> dict:
    seconds = ctx.steady_seconds
    ours, ours_settings, base, base_settings = both_stacks(ctx, "single-cpu-", hog=False)
    ms, base_ms = median([s["server_ms"] for s in ours]), median([s["server_ms"] for s in base])
    all_ms, base_all = median([s["all_ms"] for s in ours]), median([s["all_ms"] for s in base])
    ratio = ms / base_ms
    ctx.single_cpu_ms, ctx.single_baseline_cpu_ms = ms, base_ms
    details = (
        f"200 publishes/s for {seconds:g} s, one message per request, due now, as in scenario 5; "
        "CPU from `/proc` over each run (publishing and the last arrival). \"Server CPU\" adds "
        "up the message system's processes — web server, Celery workers, dispatcher, PostgreSQL "
        "(backends, background, connections that ended), Redis; \"all-in\" adds the benchmark "
        "client, nginx and loopback networking, as scenario 3 counts.\n\n"
        f"This server ({ours_settings}):\n\n{timed_table(ours)}\n\n"
        f"Server CPU ms per message by role, last run: {ours[-1]['by_role']}.\n\n"
        f"CPU during the last run: {ours[-1]['cpu']}.\n\n"
        f"Plain-Celery baseline ({base_settings}), the same client and traffic:\n\n"
        f"{timed_table(base)}\n\nServer CPU ms per message by role, last run: "
        f"{base[-1]['by_role']}.\n\nCPU during the last run: {base[-1]['cpu']}.")
    return {
        "rows": [("CPU per single due-now message at 200 msg/s (web, workers, dispatcher, "
                  "PostgreSQL, Redis)", f"{ms:.2f} ms", f"≤ {TARGET_MS} ms and ≤ 0.5× baseline",
                  f"{ratio:.2f}× baseline's {base_ms:.2f} ms; all-in (client, nginx, kernel "
                  f"too) {all_ms:.2f} vs {base_all:.2f} ms", ms <= TARGET_MS and ratio <= 0.5)],
        "details": details,
    }
