"""Benchmark: 10,000 schedules due in the same minute, published by the dispatcher's fire_due.

Usage (PostgreSQL; the script migrates the database and clears its own "bench-schedules"
tenant first, leaving other data alone):

    createdb -h 127.0.0.1 -U postgres qstash_bench
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qstash_bench \\
        .venv/bin/python benchmarks/schedules_10k.py [--schedules 10000] [--slots 3] \\
        [--dispatchers 2] [--chunk-size 250]

It creates the schedules, all firing every minute (a third with ``CRON_TZ=Europe/Berlin``),
then runs real dispatcher processes on the real clock and, for each minute slot, reports how
long after the slot every schedule's message was committed, and the dispatchers' CPU time.
Deliveries are replaced by a counting transport (this measures the scheduler, not HTTP);
between slots the produced messages are marked delivered, as workers would.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import statistics
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
os.environ.setdefault("QSTASH_TRANSPORT", "inprocess")

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from django_qstash.conf import qstash_settings  # noqa: E402
from django_qstash.core.cron import next_fire  # noqa: E402
from django_qstash.engine import scheduler  # noqa: E402
from django_qstash.engine.dispatcher import Dispatcher  # noqa: E402
from django_qstash.engine.tenants import create_tenant  # noqa: E402
from django_qstash.models import Message, Schedule  # noqa: E402

TENANT = "bench-schedules"
CRONS = ("* * * * *", "*/1 * * * *", "CRON_TZ=Europe/Berlin * * * * *")
HEADERS = [["Content-Type", "application/json"], ["Upstash-Retries", "3"],
           ["Upstash-Forward-X-Source", "benchmark"]]
BODY = b'{"report": "nightly", "padding": "' + b"x" * 64 + b'"}'


class CountingTransport:
    """Stands in for workers: counts the work items the publish path hands over."""

    in_process = True  # handed over directly, not through a broker's submitter thread

    def __init__(self) -> None:
        self.items = 0
        self.last_at = 0.0
        self.lock = threading.Lock()

    def submit(self, items) -> None:
        with self.lock:
            self.items += len(items)
            self.last_at = time.time()


def clear(tenant) -> None:
    tables = {m: m._meta.db_table for m in (Message, Schedule)}
    with connection.cursor() as cursor:
        for model in ("DeliveryAttempt", "DlqEntry"):
            table = django.apps.apps.get_model("django_qstash", model)._meta.db_table
            cursor.execute(f"DELETE FROM {table} WHERE message_id IN "
                           f"(SELECT id FROM {tables[Message]} WHERE tenant_id = %s)", [tenant.pk])
        for model in ("Event", "Message", "Schedule", "DeduplicationRecord"):
            table = django.apps.apps.get_model("django_qstash", model)._meta.db_table
            cursor.execute(f"DELETE FROM {table} WHERE tenant_id = %s", [tenant.pk])


def create_schedules(tenant, count: int) -> None:
    now = datetime.now(timezone.utc)
    options = scheduler.stored_options(HEADERS)
    rows = [Schedule(tenant=tenant, schedule_id=f"bench-{n:05d}", cron=CRONS[n % len(CRONS)],
                     destination=f"https://bench.example.com/hook/{n}", options=options,
                     body=BODY, caller_ip="127.0.0.1", created_at=now,
                     next_schedule_time=next_fire(CRONS[n % len(CRONS)], now))
            for n in range(count)]
    Schedule.objects.bulk_create(rows, batch_size=2000)


def dispatcher_process(chunk_size: int, ticks, stop) -> None:
    """One dispatcher, as the dispatcher command runs it, reporting its schedule ticks."""
    from django.conf import settings

    settings.QSTASH = {**getattr(settings, "QSTASH", {}),
                       "TRANSPORT": f"{CountingTransport.__module__}.CountingTransport"}
    qstash_settings.reload()

    def timed_fire_due(now: datetime) -> int:
        started, cpu = time.time(), time.process_time()
        fired = scheduler.fire_due(now, chunk_size=chunk_size)
        if fired:
            ticks.put((now.timestamp(), started, time.time(), fired, time.process_time() - cpu))
        return fired

    dispatcher = Dispatcher(tick_hooks=(timed_fire_due,))
    dispatcher.start_thread()
    stop.wait()
    dispatcher.stop()


def run(args) -> list[dict]:
    call_command("migrate", verbosity=0)
    tenant = create_tenant(TENANT)
    clear(tenant)
    create_schedules(tenant, args.schedules)
    # Every schedule's first slot is the same minute, at least 15 s away (set-up time).
    first_slot = next_fire("* * * * *", datetime.now(timezone.utc) + timedelta(seconds=15))
    Schedule.objects.filter(tenant=tenant).update(next_schedule_time=first_slot)
    connection.close()  # children open their own connections
    context = multiprocessing.get_context("spawn")
    ticks, stop = context.Queue(), context.Event()
    processes = [context.Process(target=dispatcher_process, args=(args.chunk_size, ticks, stop))
                 for _ in range(args.dispatchers)]
    for process in processes:
        process.start()
    records: list[tuple[float, float, float, int, float]] = []
    results = []
    try:
        for index in range(args.slots):
            slot = first_slot + timedelta(minutes=index)
            wait_until(slot + timedelta(seconds=50))
            while not ticks.empty():
                records.append(ticks.get())
            produced = Message.objects.filter(tenant=tenant, created_at__gte=slot,
                                              created_at__lt=slot + timedelta(minutes=1))
            slot_ticks = [r for r in records if slot.timestamp() <= r[0] < slot.timestamp() + 60]
            results.append({
                "slot": slot, "messages": produced.count(),
                "fired": sum(r[3] for r in slot_ticks),
                "first_start_s": min(r[1] for r in slot_ticks) - slot.timestamp(),
                "all_committed_s": max(r[2] for r in slot_ticks) - slot.timestamp(),
                "cpu_s": sum(r[4] for r in slot_ticks),
            })
            print(format_row(results[-1]), flush=True)
            # Workers would have delivered these by now; keep leases from being reclaimed.
            Message.objects.filter(tenant=tenant, status=Message.Status.ACTIVE).update(
                status=Message.Status.DELIVERED, finished_at=datetime.now(timezone.utc))
    finally:
        stop.set()
        for process in processes:
            process.join(30)
    return results


def wait_until(moment: datetime) -> None:
    while (delay := moment.timestamp() - time.time()) > 0:
        time.sleep(min(delay, 1.0))


def format_row(row: dict) -> str:
    return (f"| {row['slot']:%H:%M} | {row['fired']} | {row['messages']} | "
            f"{row['first_start_s']:.2f} | {row['all_committed_s']:.2f} | {row['cpu_s']:.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--schedules", type=int, default=10_000)
    parser.add_argument("--slots", type=int, default=3)
    parser.add_argument("--dispatchers", type=int, default=2, help="dispatcher processes")
    parser.add_argument("--chunk-size", type=int, default=scheduler.CHUNK_SIZE)
    args = parser.parse_args()
    if connection.vendor != "postgresql":
        print("warning: not PostgreSQL; numbers will not be representative", file=sys.stderr)
    print(f"{args.schedules} schedules, {args.dispatchers} dispatcher(s), "
          f"chunk {args.chunk_size}, database {connection.vendor}")
    print("| slot (UTC) | schedules fired | messages | first tick after slot (s) | "
          "all committed after slot (s) | dispatcher CPU (s) |")
    print("|---|---|---|---|---|---|")
    load_before = f"{os.getloadavg()[0]:.2f}"
    results = run(args)
    latencies = [r["all_committed_s"] for r in results]
    print(f"\nall published within {max(latencies):.2f} s of their slot "
          f"(median {statistics.median(latencies):.2f} s) over {len(results)} slots; "
          f"load average before/after: {load_before} / {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
