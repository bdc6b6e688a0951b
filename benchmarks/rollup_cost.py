"""What the dashboard's rollups cost the publish and record paths, and what folding them costs.

Usage (PostgreSQL; each code version gets a fresh database named after the one given):
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qstash_rollup_cost \
        .venv/bin/python benchmarks/rollup_cost.py [--compare main OTHER_REF ...] [--rounds 3]

In-process, messages published with a one-hour delay so that nothing is sent:
  - one publish per call from one thread (µs per publish),
  - publishes from 8 threads sharing group commits (publishes per second),
  - outcomes recorded in batches of 50 (µs per message),
  - when the code folds rollups off the write path: the fold of all of that (µs per message).
--compare also runs this script against other git refs (extracted with ``git archive`` to a
temporary directory), one after the other. The per-event log lines are turned off.
Results are in docs/benchmarks-admin.md.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--compare", nargs="*", default=[], help="git refs to run as well")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--publishes", type=int, default=1500, help="single-thread, per round")
    parser.add_argument("--threaded", type=int, default=3000, help="8 threads, per round")
    parser.add_argument("--outcomes", type=int, default=2000, help="per round")
    parser.add_argument("--label", default="this tree")
    parser.add_argument("--json", action="store_true", help="print one JSON line (for --compare)")
    return parser.parse_args()


def fresh_database(url: str, suffix: str) -> str:
    import psycopg

    base, _, name = url.rpartition("/")
    name = f"{name}_{suffix}"
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return f"{base}/{name}"


def setup() -> None:
    import logging

    import django
    from django.core.management import call_command

    django.setup()
    # The per-event log lines would measure the terminal, not the database path.
    logging.getLogger("django_qstash.engine.event_log").setLevel(logging.WARNING)
    call_command("migrate", verbosity=0)


def delayed(tenant, count: int) -> list:
    from django_qstash.engine.publishing import prepare

    return [prepare(tenant, "https://sink.example.com/hook", b"{}", [("Upstash-Delay", "1h")])
            for _ in range(count)]


def single_publishes(tenant, count: int) -> float:
    from django_qstash.engine.publishing import publish_specs

    specs = delayed(tenant, count)
    publish_specs(tenant, [specs.pop()])  # warm
    started = time.perf_counter()
    for spec in specs:
        publish_specs(tenant, [spec])
    return (time.perf_counter() - started) / len(specs) * 1e6


def threaded_publishes(tenant, count: int, threads: int = 8) -> float:
    from django.db import connection

    from django_qstash.engine.publishing import publish_specs

    per_thread = [delayed(tenant, count // threads) for _ in range(threads)]
    start = threading.Barrier(threads + 1)

    def run(specs):
        try:
            start.wait()
            for spec in specs:
                publish_specs(tenant, [spec])
        finally:
            connection.close()
    workers = [threading.Thread(target=run, args=(specs,)) for specs in per_thread]
    for worker in workers:
        worker.start()
    start.wait()
    started = time.perf_counter()
    for worker in workers:
        worker.join()
    return sum(map(len, per_thread)) / (time.perf_counter() - started)


def recorded_outcomes(tenant, count: int, batch: int = 50) -> float:
    from django.db import transaction

    from django_qstash.core import clock
    from django_qstash.core.attempts import DeliveryOutcome
    from django_qstash.engine.lifecycle import record_outcomes
    from django_qstash.engine.publishing import publish_specs
    from django_qstash.engine.transitions import claim
    from django_qstash.models import Message

    ids = [p.message_id for p in publish_specs(tenant, delayed(tenant, count))]
    now = clock.now()
    with transaction.atomic():
        claim(list(Message.objects.select_for_update().filter(pk__in=ids)), now)
    messages = list(Message.objects.filter(pk__in=ids))
    ok = DeliveryOutcome(status=200, headers={}, body=b"ok", error="", duration_ms=12)
    spent = 0.0
    for first in range(0, len(messages), batch):
        chunk = [(m, ok, now) for m in messages[first:first + batch]]
        started = time.perf_counter()
        record_outcomes(chunk)
        spent += time.perf_counter() - started
    return spent / len(messages) * 1e6


def folding() -> dict | None:
    """The fold of this round's events and attempts, when this code folds (None otherwise)."""
    try:
        from django_qstash.core import clock
        from django_qstash.engine import rollup_fold
    except ImportError:
        return None
    from django_qstash.models import RollupFold

    def cursors():
        state = RollupFold.objects.filter(name=rollup_fold.STATE).first()
        return (state.events_folded, state.attempts_folded) if state else (0, 0)
    before = cursors()
    rollup_fold.fold()  # notes the newest ids: everything this round wrote
    later = clock.now() + 2 * rollup_fold.SAFETY_MARGIN
    started = time.perf_counter()
    while rollup_fold.fold(later):
        pass
    spent = time.perf_counter() - started
    after = cursors()
    events, attempts = after[0] - before[0], after[1] - before[1]
    return {"events": events, "attempts": attempts, "ms": spent * 1e3,
            "us_per_event": spent / max(events + attempts, 1) * 1e6}


def measure(args: argparse.Namespace) -> dict:
    from django_qstash.engine.tenants import create_tenant

    results: dict[str, list] = {"single_us": [], "threads_per_s": [], "outcome_us": [],
                                "fold": []}
    for round_ in range(args.rounds):
        tenant = create_tenant(f"cost-{round_}-{time.time_ns()}")
        results["single_us"].append(single_publishes(tenant, args.publishes))
        results["threads_per_s"].append(threaded_publishes(tenant, args.threaded))
        results["outcome_us"].append(recorded_outcomes(tenant, args.outcomes))
        results["fold"].append(folding())
    return results


def summary(label: str, results: dict) -> str:
    def span(values, fmt="{:,.0f}"):
        return f"{fmt.format(min(values))}–{fmt.format(max(values))} " \
               f"(median {fmt.format(statistics.median(values))})"
    lines = [f"{label}:",
             f"  single publish, µs:          {span(results['single_us'])}",
             f"  8 threads, publishes/s:      {span(results['threads_per_s'])}",
             f"  outcomes (batches of 50), µs: {span(results['outcome_us'])}"]
    folds = [f for f in results["fold"] if f]
    if folds:
        lines.append(f"  fold, µs per event+attempt:  {span([f['us_per_event'] for f in folds], '{:.1f}')}"
                     f"  (last: {folds[-1]['events']:,} events + {folds[-1]['attempts']:,} "
                     f"attempts in {folds[-1]['ms']:,.0f} ms)")
    return "\n".join(lines)


def run_ref(ref: str, args: argparse.Namespace) -> dict:
    """This script run against ``ref``'s code, in a temporary extract of it."""
    with tempfile.TemporaryDirectory() as tree:
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", ref], check=True,
                                 capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", tree], input=archive, check=True)
        script = Path(tree) / "benchmarks" / "rollup_cost.py"
        script.parent.mkdir(exist_ok=True)
        script.write_text(Path(__file__).read_text())
        command = [sys.executable, str(script), "--json", "--label", ref,
                   "--rounds", str(args.rounds), "--publishes", str(args.publishes),
                   "--threaded", str(args.threaded), "--outcomes", str(args.outcomes)]
        out = subprocess.run(command, check=True, capture_output=True, text=True,
                             env={**os.environ, "ROLLUP_COST_SUFFIX": ref.replace("/", "_")},
                             cwd=tree).stdout
        return json.loads(out.strip().splitlines()[-1])


def main() -> None:
    args = parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith("postgres"):
        sys.exit("DATABASE_URL=postgres://… is needed (the write path is measured on PostgreSQL)")
    suffix = os.environ.get("ROLLUP_COST_SUFFIX", "tree")
    os.environ["DATABASE_URL"] = fresh_database(url, "".join(
        c if c.isalnum() else "_" for c in suffix.lower()))
    setup()
    results = measure(args)
    if args.json:
        print(json.dumps(results))
        return
    print(summary(args.label, results), flush=True)
    os.environ["DATABASE_URL"] = url
    for ref in args.compare:
        print(summary(ref, run_ref(ref, args)), flush=True)


if __name__ == "__main__":
    main()
