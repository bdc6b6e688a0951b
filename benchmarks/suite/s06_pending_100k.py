"""100,000 messages delayed 1 h: worker/dispatcher RSS, publish speed vs Celery countdown."""

from __future__ import annotations

import threading
import time

import redis

from .client import BODY, publish_batches, run_async
from .common import PYTHON, cmdline, descendants, fmt, rss_mb, stop
from .s02_celery_baseline import BROKER, flush_broker, start_worker
from .stack import ProdStack

LIMIT_MB = 150


class RssWatch(threading.Thread):
    """Samples VmRSS of every process under the given roots; keeps each one's maximum."""

    def __init__(self, roots: dict[str, int], interval: float = 0.5) -> None:
        super().__init__(daemon=True)
        self.roots, self.interval = roots, interval
        self.peak: dict[tuple[str, int], float] = {}
        self.commands: dict[int, str] = {}
        self.halt = threading.Event()

    def sample(self) -> None:
        for role, root in self.roots.items():
            for pid in descendants(root):
                key = (role, pid)
                if pid not in self.commands:
                    self.commands[pid] = cmdline(pid)
                self.peak[key] = max(self.peak.get(key, 0.0), rss_mb(pid))

    def run(self) -> None:
        while not self.halt.is_set():
            self.sample()
            self.halt.wait(self.interval)

    def stop(self) -> None:
        self.halt.set()
        self.join(10)
        self.sample()


def server_part(ctx, total: int) -> dict:
    stack = ProdStack(ctx.template, web_workers=2, web_threads=4).start()
    roots = {name.replace("web", "web server"): p.pid for name, p in stack.processes.items()}
    watch = RssWatch(roots)
    watch.start()
    try:
        items = [{"destination": f"{ctx.sink.url}/pending/hook", "body": BODY,
                  "headers": {"Upstash-Delay": "1h"}} for _ in range(total)]
        result = run_async(publish_batches(stack.url, stack.auth, items, 100, concurrency=4))
        if result["errors"] or result["accepted"] != total:
            raise RuntimeError(f"{result['accepted']} accepted; errors {result['errors'][:3]}")
        time.sleep(ctx.hold_seconds)  # the dispatcher keeps ticking over 100k pending rows
    finally:
        watch.stop()
        stack.stop()
    return {"publish_s": result["elapsed"], "peak": watch.peak, "commands": watch.commands}


def baseline_part(ctx, total: int) -> dict:
    """apply_async(countdown=3600) with no worker running, then a worker takes them all in."""
    from .baseline_app import post_webhook

    flush_broker()
    url = ctx.sink.url + "/pending/baseline"
    started = time.perf_counter()
    for _ in range(total):
        post_webhook.apply_async((url, BODY), countdown=3600)
    enqueue_s = time.perf_counter() - started
    queue = redis.Redis.from_url(BROKER)
    worker = start_worker(ctx.sink, "baseline-countdown-worker", warm=False)
    watch = RssWatch({"baseline celery worker": worker.pid})
    watch.start()
    try:
        deadline = time.monotonic() + ctx.absorb_timeout
        while queue.llen("webhooks") > 0 and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(3)  # let the last fetched messages settle into the worker's timer
        left = queue.llen("webhooks")
    finally:
        watch.stop()
        stop(worker)
        flush_broker()
    return {"enqueue_s": enqueue_s, "peak": watch.peak, "left_in_queue": left,
            "commands": watch.commands}


def _peaks(peak: dict) -> list[tuple[str, int, float]]:
    return sorted(((role, pid, mb) for (role, pid), mb in peak.items()), key=lambda r: (r[0], r[1]))


def run(ctx) -> dict:
    total = ctx.pending_messages
    server = server_part(ctx, total)
    baseline = baseline_part(ctx, total)
    checked = [(r, p, mb) for r, p, mb in _peaks(server["peak"]) if r != "web server"]
    worst = max(mb for _, _, mb in checked)
    base_worst = max(mb for _, _, mb in _peaks(baseline["peak"]))
    speedup = baseline["enqueue_s"] / server["publish_s"]
    commands = {**server["commands"], **baseline["commands"]}
    shown = {pid: command.replace(PYTHON, "python")[:70] for pid, command in commands.items()}
    lines = [f"| {role} | {pid} | {mb:.0f} | `{shown.get(pid, '')}` |"
             for role, pid, mb in _peaks(server["peak"]) + _peaks(baseline["peak"])]
    details = (
        f"{total:,} messages with `Upstash-Delay: 1h` through `POST /v2/batch` (100 per request, "
        f"4 concurrent): {server['publish_s']:.1f} s ({fmt(total / server['publish_s'])} msg/s); "
        f"then {ctx.hold_seconds:g} s more with all of them pending. Plain Celery: "
        f"{total:,} × `post_webhook.apply_async(countdown=3600)` from one process, no worker "
        f"running: {baseline['enqueue_s']:.1f} s ({fmt(total / baseline['enqueue_s'])} msg/s); "
        f"then a `-c 2` worker was started and took them into memory "
        f"({baseline['left_in_queue']:,} still in the Redis list after "
        f"{ctx.absorb_timeout:g} s max).\n\n"
        "Peak VmRSS per process, sampled every 0.5 s (children of the prefork pools included; "
        "the web server reported but not part of the target):\n\n"
        "| role | pid | peak RSS MB | command |\n|---|---|---|---|\n" + "\n".join(lines))
    return {
        "rows": [(f"{total:,} pending (1 h delay): max RSS of any worker/dispatcher process",
                  f"{worst:.0f} MB", f"< {LIMIT_MB} MB",
                  f"plain Celery worker holding them as countdown tasks: {base_worst:.0f} MB",
                  worst < LIMIT_MB),
                 (f"Publishing {total:,} delayed messages vs `apply_async(countdown=3600)`",
                  f"{server['publish_s']:.1f} s vs {baseline['enqueue_s']:.1f} s", "≥ 3× faster",
                  f"{speedup:.2f}× as fast", speedup >= 3)],
        "details": details,
    }
