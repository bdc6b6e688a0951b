"""Single due-now messages: the plain-Celery web+worker stack, a CPU hog, CPU per message."""

from __future__ import annotations

import os
import threading
import time

import httpx

from .client import BODY
from .common import PYTHON, descendants, free_port, start, stop, wait_for
from .s02_celery_baseline import BROKER, flush_broker, start_worker
from .stack import ProdStack, web_command, web_settings

HOG_ROLE = "CPU hog (excluded)"
# Roles that are the message system itself (the "all processes": web, workers,
# dispatcher, PostgreSQL, Redis); the rest of a run (client, nginx, kernel) is the test rig.
SERVER_EXTRA_ROLES = ("redis-server", "postgres background (postmaster, WAL writer, ...)",
                      "postgres processes that ended (closed connections, autovacuum workers)")


class BaselineStack:
    """What people run instead: granian serving a Django view that calls
    `post_webhook.delay()`, and `celery worker -c 2` (prefork) posting each webhook."""

    def __init__(self, web_workers: int = 2, web_threads: int = 4) -> None:
        self.web_workers, self.web_threads = web_workers, web_threads
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.auth: dict = {}
        self.processes: dict = {}

    @property
    def settings(self) -> str:
        return (f"{web_settings('granian', self.web_workers, self.web_threads)} serving "
                "`benchmarks.suite.baseline_wsgi` (one view: `post_webhook.delay(url, body, "
                "headers)`, the middleware of a stock Django project), 1 × `celery -A "
                "benchmarks.suite.baseline_app worker -c 2 -P prefork`, Redis broker")

    def start(self, sink) -> "BaselineStack":
        flush_broker()
        self.processes["worker"] = start_worker(sink, "baseline-single-worker")
        env = {**os.environ, "BASELINE_BROKER_URL": BROKER, "PYTHONUNBUFFERED": "1",
               "DJANGO_SETTINGS_MODULE": "benchmarks.suite.baseline_web"}
        argv = web_command("granian", self.port, self.web_workers, self.web_threads)
        argv[argv.index("example_project.wsgi:application")] = (
            "benchmarks.suite.baseline_wsgi:application")
        self.processes["web"] = start("baseline-web", argv, env=env)
        probe = f"{self.url}/v2/publish/{sink.url}/baseline/probe"
        wait_for(lambda: self._up(probe), 60, 0.2, what="the baseline web server (see logs)")
        return self

    def _up(self, probe: str) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"baseline {name} exited with {process.returncode}")
        try:
            return httpx.post(probe, content=BODY).status_code == 200
        except httpx.HTTPError:
            return False

    def roles(self) -> dict[str, list[int]]:
        return {"baseline web server": descendants(self.processes["web"].pid),
                "baseline celery worker (main + 2 children)":
                    descendants(self.processes["worker"].pid)}

    def server_roles(self) -> tuple[str, ...]:
        return (*self.roles(), "redis-server")

    def stop(self) -> None:
        for process in self.processes.values():
            stop(process)
        flush_broker()


def server_roles(stack) -> tuple[str, ...]:
    """The roles of ``stack`` (this server's or the baseline's) that count as the server."""
    if hasattr(stack, "server_roles"):
        return stack.server_roles()
    return (*stack.roles(), *SERVER_EXTRA_ROLES)


def split_ms(meter, count: int, roles: tuple[str, ...]) -> tuple[float, float]:
    """(server-side CPU ms per message, all-in ms per message as scenario 3 counts it)."""
    server = sum(seconds for role, seconds in meter.seconds.items() if role in roles)
    return server / max(count, 1) * 1000, meter.ms_per(count)


class CpuHog:
    """One process spinning on one core for as long as it runs (someone else's busy job)."""

    def __init__(self) -> None:
        self.process = None

    def __enter__(self) -> "CpuHog":
        self.process = start("cpu-hog", [PYTHON, "-c", "while True: pass"])
        time.sleep(0.5)  # spinning before the measurement starts
        return self

    def __exit__(self, *_exc) -> None:
        stop(self.process)

    def with_roles(self, roles):
        """``roles`` (a CpuMeter roles function) plus the hog under its own, excluded role."""
        return lambda: {**roles(), HOG_ROLE: [self.process.pid]}


class Sampler(threading.Thread):
    """(time, value of ``count()``) every ``interval`` until ``stop()``."""

    def __init__(self, count, interval: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.count, self.interval = count, interval
        self.samples: list[tuple[float, int]] = []
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            self.samples.append((time.time(), self.count()))
            self._done.wait(self.interval)

    def stop(self) -> None:
        self._done.set()
        self.join(5)

    def value_at(self, when: float) -> int:
        """The last sample taken at or before ``when`` (linear in the sample count)."""
        found = self.samples[0][1] if self.samples else 0
        for at, value in self.samples:
            if at > when:
                break
            found = value
        return found


def by_role(meter, count: int, roles: tuple[str, ...]) -> str:
    """The server's CPU ms per message, role by role, biggest first."""
    parts = sorted(((seconds / max(count, 1) * 1000, role) for role, seconds
                    in meter.seconds.items() if role in roles), reverse=True)
    return ", ".join(f"{role} {ms:.2f}" for ms, role in parts if ms >= 0.005)


def timed_runs(stack, sink, tag: str, runs: int, seconds: float, hog: bool) -> list[dict]:
    """Scenario 5's traffic (200 due-now publishes/s, open loop, timed by nginx) against
    ``stack``, ``runs`` times, each with its CPU per message; a CPU hog spins during each
    run when ``hog``."""
    from contextlib import nullcontext

    from .common import CpuMeter, format_cpu
    from .s05_latency import run_once

    roles = server_roles(stack)
    samples = []
    for index in range(runs):
        with CpuHog() if hog else nullcontext() as spinning:
            meter = CpuMeter(spinning.with_roles(stack.roles) if hog else stack.roles)
            meter.begin()
            sample = run_once(stack, sink, f"{tag}{index}", seconds)
            cpu = meter.end()
        sample["server_ms"], sample["all_ms"] = split_ms(meter, sample["arrived"], roles)
        sample["by_role"] = by_role(meter, sample["arrived"], roles)
        sample["cpu"] = format_cpu(cpu)
        sample["kept_up"] = (sample["arrived"] == sample["count"]
                             and sample["delivery_rate"] >= 0.95 * sample["count"] / seconds)
        samples.append(sample)
    return samples


def timed_table(samples: list[dict]) -> str:
    rows = "\n".join(
        f"| {i + 1} | {s['arrived']:,} / {s['count']:,} | {s['p50']:.1f} | {s['p99']:.1f} | "
        f"{s['max']:.1f} | {s['api_p50']:.1f} | {s['api_p99']:.1f} | {s['delivery_rate']:,.0f} | "
        f"{s['server_ms']:.2f} | {s['all_ms']:.2f} |" for i, s in enumerate(samples))
    return ("| run | arrived | publish→arrival p50 ms | p99 ms | max ms | API p50 ms | API p99 ms "
            "| arrivals/s (first send → last arrival) | server CPU ms per message | all-in CPU "
            "ms per message |\n|---|---|---|---|---|---|---|---|---|---|\n" + rows)


def both_stacks(ctx, tag: str, hog: bool) -> tuple[list[dict], str, list[dict], str]:
    """Scenario 5's timed runs on this server, then on the baseline, after a warm-up each:
    (this server's runs, its settings, the baseline's runs, its settings)."""
    runs, seconds = ctx.quick_runs, ctx.steady_seconds
    stack = ProdStack(ctx.template, web_workers=2, web_threads=4).start()
    try:
        timed_runs(stack, ctx.sink, f"{tag}warmup", 1, 2, hog=False)
        ours = timed_runs(stack, ctx.sink, tag, runs, seconds, hog=hog)
        ours_settings = stack.settings
    finally:
        stack.stop()
    baseline = BaselineStack().start(ctx.sink)
    try:
        timed_runs(baseline, ctx.sink, f"{tag}base-warmup", 1, 2, hog=False)
        base = timed_runs(baseline, ctx.sink, f"{tag}base-", runs, seconds, hog=hog)
    finally:
        baseline.stop()
    return ours, ours_settings, base, baseline.settings
