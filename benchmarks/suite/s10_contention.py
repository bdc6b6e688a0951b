"""Scenario 5 on a busy machine: 200 due-now msg/s while a CPU hog spins one full core."""

from __future__ import annotations

from .common import median
from .single import both_stacks, timed_table


def run(ctx) -> dict:
    seconds = ctx.steady_seconds
    ours, ours_settings, base, base_settings = both_stacks(ctx, "busy-", hog=True)

    def mid(samples: list[dict], key: str) -> float:
        return median([s[key] for s in samples])

    p50, p99, base_p50, base_p99 = (mid(ours, "p50"), mid(ours, "p99"), mid(base, "p50"),
                                    mid(base, "p99"))
    rate, base_rate = mid(ours, "delivery_rate"), mid(base, "delivery_rate")
    kept_up = all(s["kept_up"] for s in ours)
    arrived = sum(s["arrived"] for s in ours), sum(s["count"] for s in ours)
    base_arrived = sum(s["arrived"] for s in base), sum(s["count"] for s in base)
    details = (
        f"Scenario 5's traffic (200 publishes/s for {seconds:g} s, due now, one message per "
        "request, timed by nginx) while `python -c 'while True: pass'` — started before and "
        "stopped after each scored run — takes one of the machine's cores; its own CPU is left "
        "out of the per-message figures. Arrivals keep up when every message arrived and "
        "arrivals/s (first send → last arrival) is at least 95% of the sending rate.\n\n"
        f"This server ({ours_settings}):\n\n{timed_table(ours)}\n\n"
        f"CPU during the last run: {ours[-1]['cpu']}.\n\n"
        f"Plain-Celery baseline ({base_settings}), the same client, traffic and hog:\n\n"
        f"{timed_table(base)}\n\nCPU during the last run: {base[-1]['cpu']}.")
    return {
        "rows": [("Publish→arrival p50, 200 msg/s, one core taken by a CPU hog",
                  f"{p50:.1f} ms", "≤ 20 ms", f"{p50 / base_p50:.2f}× baseline's "
                  f"{base_p50:.1f} ms under the same hog", p50 <= 20),
                 ("Publish→arrival p99, 200 msg/s, one core taken by a CPU hog",
                  f"{p99:.1f} ms", "≤ 100 ms", f"{p99 / base_p99:.2f}× baseline's "
                  f"{base_p99:.1f} ms under the same hog", p99 <= 100),
                 ("Arrivals keep up at 200 msg/s with a CPU hog",
                  f"{rate:,.0f} msg/s, {arrived[0]:,} / {arrived[1]:,} arrived",
                  "all arrive, ≥ 190 msg/s", f"baseline {base_rate:,.0f} msg/s, "
                  f"{base_arrived[0]:,} / {base_arrived[1]:,} arrived", kept_up)],
        "details": details,
    }
