"""Set up and run every benchmark, write docs/benchmarks.md: `python3 benchmarks/run_all.py`."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENV_PYTHON = ROOT / ".venv" / "bin" / "python"


def bootstrap() -> None:
    """Re-run this script inside the project's .venv (created and installed if missing)."""
    if Path(sys.prefix).resolve() == (ROOT / ".venv").resolve():
        return
    if not VENV_PYTHON.exists():
        print("creating .venv and installing the project ...", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(ROOT / ".venv")], check=True)
        subprocess.run([str(VENV_PYTHON), "-m", "pip", "install", "--quiet", "-e",
                        ".[server,postgres]"], cwd=ROOT, check=True)
    os.execv(str(VENV_PYTHON), [str(VENV_PYTHON), str(Path(__file__).resolve()), *sys.argv[1:]])


bootstrap()
sys.path.insert(0, str(ROOT))
os.chdir(ROOT)

import argparse  # noqa: E402
import atexit  # noqa: E402
import importlib  # noqa: E402
import signal  # noqa: E402
import time  # noqa: E402
import traceback  # noqa: E402
from types import SimpleNamespace  # noqa: E402


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small counts: a smoke test")
    parser.add_argument("--only", default="", help="comma-separated scenario numbers, e.g. 3,5")
    parser.add_argument("--output", default="", help="markdown file to write")
    parser.add_argument("--no-profile", action="store_true", help="skip the py-spy passes")
    parser.add_argument("--wait-quiet", type=float, default=60,
                        help="wait up to this many seconds for other processes to go quiet")
    parser.add_argument("--shared-services", action="store_true",
                        help="use the machine's PostgreSQL (5432) and Redis (6379) instead of "
                             "private ones")
    return parser.parse_args()


ARGS = parse_args()
from benchmarks.suite import services  # noqa: E402

PRIVATE = None
if not ARGS.shared_services and services.available():
    # Before anything reads the service addresses: they come from these variables.
    PRIVATE = services.PrivateServices().start()
    atexit.register(PRIVATE.stop)  # runs after the suite's own cleanup (registered later)
    os.environ.update(PRIVATE.env)

from benchmarks.suite import setup_env  # noqa: E402

if PRIVATE is None:
    setup_env.check_services()
setup_env.ensure_nginx()
setup_env.ensure_python_packages()

from benchmarks.suite import common, report  # noqa: E402
from benchmarks.suite.settle import settle  # noqa: E402
from benchmarks.suite.sink import NginxSink  # noqa: E402

SCENARIOS = ["s01_raw_limit", "s02_celery_baseline", "s03_e2e_throughput", "s04_publish_api",
             "s05_latency", "s06_pending_100k", "s07_burst_5k", "s08_dev_server",
             "s09_single_cpu", "s10_contention", "s11_single_throughput"]
TITLES = ["Raw limit", "Plain-Celery baseline", "End-to-end throughput (production)",
          "Single-message publish API (production, one process)",
          "Publish→arrival latency (production)", "100,000 pending messages",
          "5,000 messages due in the same second (production)", "Dev server",
          "CPU per single due-now message (production vs plain Celery)",
          "Latency on a busy machine: one core taken by a CPU hog (production vs plain Celery)",
          "Single-message throughput, closed loop (production vs plain Celery)"]
FULL = dict(quick_runs=3, e2e_messages=20_000, baseline_messages=20_000, e2e_timeout=150,
            budget_s=200, publish_requests=5_000, steady_seconds=10, pending_messages=100_000,
            hold_seconds=10, absorb_timeout=120, burst_messages=5_000, dev_messages=3_000,
            closed_seconds=15)
QUICK = dict(quick_runs=1, e2e_messages=2_000, baseline_messages=2_000, e2e_timeout=60,
             budget_s=60, publish_requests=1_000, steady_seconds=3, pending_messages=5_000,
             hold_seconds=2, absorb_timeout=30, burst_messages=500, dev_messages=500,
             closed_seconds=4)


def background_cpu(seconds: float = 3) -> float:
    """% of one core used by everything on the machine over ``seconds`` (nothing of ours runs)."""
    before = common.machine_busy_seconds()
    time.sleep(seconds)
    return (common.machine_busy_seconds() - before) / seconds * 100


def time_limit(*_args) -> None:
    raise SystemExit("benchmarks: hard time limit reached")


def run_scenario(module, title: str, ctx) -> dict:
    print(f"    {settle()}", flush=True)
    begun, services = time.time(), common.service_ids()
    outcome = {"title": title, "doc": module.__doc__.strip()}
    try:
        outcome["result"] = module.run(ctx)
        for what, measured, target, ratio, passed in outcome["result"]["rows"]:
            print(f"    {what}: {measured} (target {target}; {ratio}) "
                  f"{report.verdict(passed).strip('*')}", flush=True)
    except Exception:
        outcome["error"] = traceback.format_exc()
        print(f"    ERROR: {outcome['error'].strip().splitlines()[-1]}", flush=True)
    outcome["seconds"] = time.time() - begun
    now = common.service_ids()
    outcome["restarted"] = [name for name in services if services[name] != now[name]]
    return outcome


def main() -> int:
    args = ARGS
    partial = args.quick or bool(args.only)
    output = Path(args.output) if args.output else (
        common.WORK / "benchmarks.md" if partial else ROOT / "docs" / "benchmarks.md")
    chosen = {int(n) for n in args.only.split(",") if n} or set(range(1, len(SCENARIOS) + 1))
    # A hard stop well above the expected ~20 minutes; cleanup runs on the way out.
    signal.signal(signal.SIGALRM, time_limit)
    signal.alarm(45 * 60)

    started = time.time()
    ctx = SimpleNamespace(**(QUICK if args.quick else FULL), profile=not args.no_profile,
                          limit_rate=float("nan"), baseline_rate=float("nan"),
                          baseline_cpu_ms=float("nan"))
    ctx.redis_dbs = f"{common.REDIS_SERVER_DB} and {common.REDIS_BASELINE_DB}"
    ctx.services = PRIVATE.description if PRIVATE else (
        "the machine's shared PostgreSQL on 127.0.0.1:5432 and Redis on 127.0.0.1:6379")
    ctx.machine, ctx.versions = setup_env.machine(), setup_env.versions()
    ctx.git = setup_env.git_state()
    ctx.load_start = common.loadavg()
    ctx.background = background_cpu()
    deadline = time.monotonic() + args.wait_quiet
    while ctx.background > 30 and time.monotonic() < deadline:
        print(f"other processes use {ctx.background:.0f}% of a core; waiting for quiet ...",
              flush=True)
        ctx.background = background_cpu()
    print(f"logs and scratch files: {common.WORK}", flush=True)

    ctx.sink = NginxSink().start()
    common.on_cleanup(ctx.sink.stop)
    from benchmarks.suite.stack import Template

    ctx.template = Template()
    outcomes = []
    for number, (name, title) in enumerate(zip(SCENARIOS, TITLES), 1):
        if number not in chosen:
            continue
        module = importlib.import_module(f"benchmarks.suite.{name}")
        print(f"[{time.strftime('%H:%M:%S')}] {number}. {title} ...", flush=True)
        for attempt in (1, 2):
            outcome = run_scenario(module, title, ctx)
            outcome["number"] = number
            restarted = outcome.pop("restarted")
            if not restarted:
                break
            note = (f"{' and '.join(restarted)} restarted during this scenario (by another user "
                    "of the machine)")
            outcome.setdefault("result", {"rows": [], "details": ""}).setdefault("notes", [])
            if attempt == 1:
                print(f"    {note}: running it again", flush=True)
                continue
            outcome["result"]["notes"].append(f"**Warning**: {note}, twice; numbers disturbed.")
        outcomes.append(outcome)
    ctx.load_end = common.loadavg()
    report.write(output, ctx, outcomes, started, time.time())
    print(f"wrote {output} ({(time.time() - started) / 60:.1f} min)")
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    finally:
        common.cleanup_all()
