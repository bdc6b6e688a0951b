"""Time the admin's lists and overview with 1,000,000 messages in PostgreSQL.

Usage:
    createdb -h 127.0.0.1 -U postgres qstash_admin_bench      # or let the script create it
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qstash_admin_bench \
        .venv/bin/python benchmarks/admin_1m.py [--messages 1000000] [--refill] [--runs 5] \
        [--unfolded 1000] [--unfolded-seconds 10] [--overview-only]

Fills the database once (set-based INSERT … SELECT generate_series: about a minute), keeps it
for later runs (--refill starts over), then renders each page with Django's test Client as a
logged-in superuser: one warm-up, then --runs timed requests; prints median and max in ms.
The overview is then timed again with --unfolded more messages (delivered: three events and
one attempt each) written past the fold's cursors, which the page reads live.
Results are in docs/benchmarks-admin.md.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

TENANTS = ("bench-a", "bench-b", "bench-c")
# status by i % 100: 90 delivered, 5 failed (all in the DLQ), 3 pending, 1 active, 1 canceled
FILL_MESSAGES = """
INSERT INTO django_qstash_message (
  id, tenant_id, kind, source_message_id, url, method, headers, body, topic_name, endpoint_name,
  queue_name, schedule_id, caller_ip, max_retries, retried, retry_delay_expression, callback,
  callback_headers, callback_options, failure_callback, failure_callback_headers,
  failure_callback_options, labels, label_index, redact_fields, flow_control_key,
  deduplication_id, status, cancel_requested, not_before, created_at, updated_at, finished_at,
  claim_token)
SELECT 'msg_bench' || lpad(i::text, 9, '0'), t.ids[1 + i % 3], 'message', '',
  'https://hooks.example.com/path/' || (i % 100), 'POST',
  '{"Content-Type": ["application/json"]}', convert_to('{"n": ' || i || '}', 'UTF8'),
  CASE WHEN i % 10 = 0 THEN 'group-' || (i % 5) ELSE '' END, '',
  CASE WHEN i % 4 = 0 THEN 'queue-' || (i % 20) ELSE '' END, '', '127.0.0.1', 3,
  CASE WHEN i % 100 BETWEEN 90 AND 94 THEN 3 ELSE 0 END, '', '', '{}', '{}', '', '{}', '{}',
  CASE WHEN i % 7 = 0 THEN '["red"]'::jsonb ELSE '[]'::jsonb END,
  CASE WHEN i % 7 = 0 THEN ',red,' ELSE '' END, '[]',
  CASE WHEN i % 50 = 0 THEN 'fc-' || (i % 3) ELSE '' END, '',
  CASE WHEN i % 100 < 90 THEN 'delivered' WHEN i % 100 < 95 THEN 'failed'
       WHEN i % 100 < 98 THEN 'pending' WHEN i % 100 < 99 THEN 'active' ELSE 'canceled' END,
  i % 100 = 99, ts, ts, ts, CASE WHEN i % 100 < 95 OR i % 100 = 99 THEN ts END, 1
FROM generate_series(1, {n}) AS i,
     LATERAL (SELECT now() - ({n} - i) * interval '1 second' AS ts) AS s,
     (SELECT array_agg(id ORDER BY name) AS ids FROM django_qstash_tenant
      WHERE name LIKE 'bench-%') AS t
"""
FILL_DLQ = """
INSERT INTO django_qstash_dlqentry (dlq_id, tenant_id, message_id, response_status,
  response_headers, response_body, error, created_at)
SELECT (extract(epoch FROM m.finished_at) * 1000)::bigint || '-' || row_number() OVER (),
  m.tenant_id, m.id, CASE WHEN length(m.id) % 2 = 0 THEN 500 ELSE 404 END,
  '{"Content-Type": ["text/plain"]}', convert_to('upstream failed', 'UTF8'),
  'destination answered 500', m.finished_at
FROM django_qstash_message m WHERE m.status = 'failed' ORDER BY m.created_at
"""
FILL_EVENTS = """
INSERT INTO django_qstash_event (tenant_id, message_id, state, time, url, topic_name,
  endpoint_name, queue_name, schedule_id, flow_control_key, labels, label_index, error)
SELECT m.tenant_id, m.id, e.state, m.created_at, m.url, m.topic_name, '', m.queue_name, '',
  m.flow_control_key, m.labels, m.label_index, ''
FROM django_qstash_message m,
     LATERAL (VALUES ('CREATED'), (upper(m.status))) AS e(state)
ORDER BY m.created_at
"""
# The dashboard's rollups as the write path would have left them: four writers (shards) per
# tenant and minute, latencies spread over the histogram, destinations over 25 origins by hour.
WAIT_BUCKET = "(2 + i % 7)"  # 25 ms .. 2.5 s
DONE_BUCKET = "(4 + i % 9)"  # 250 ms .. 60 s


def fill_rollups_sql() -> tuple[str, str]:
    from django_qstash.models.rollup import BUCKETS, done_column, wait_column

    histogram = ", ".join(
        [f"SUM(CASE WHEN {WAIT_BUCKET} = {b} AND state <> 'pending' THEN 1 ELSE 0 END)"
         for b in range(BUCKETS)]
        + [f"SUM(CASE WHEN {DONE_BUCKET} = {b} AND state = 'delivered' THEN 1 ELSE 0 END)"
           for b in range(BUCKETS)])
    columns = ", ".join([wait_column(b) for b in range(BUCKETS)]
                        + [done_column(b) for b in range(BUCKETS)])
    activity = f"""
INSERT INTO django_qstash_activityminute (tenant_id, minute, shard, published, delivered,
  retried, failed, canceled, {columns})
SELECT tenant_id, date_trunc('minute', created_at), i % 4, COUNT(*),
  SUM((state = 'delivered')::int), SUM((retried > 0)::int), SUM((state = 'failed')::int),
  SUM((state = 'canceled')::int), {histogram}
FROM (SELECT tenant_id, created_at, status AS state, retried,
             substr(id, 10)::int AS i FROM django_qstash_message) m
GROUP BY 1, 2, 3
"""
    destinations = """
INSERT INTO django_qstash_destinationhour (tenant_id, hour, origin, shard, attempts, errors,
  failed, duration_ms, last_status, last_at)
SELECT tenant_id, date_trunc('hour', created_at),
  'https://dest-' || (split_part(url, '/', 5)::int % 25) || '.example.com', 0,
  COUNT(*) + SUM(retried), SUM(retried), SUM((status = 'failed')::int),
  SUM(40 + (split_part(url, '/', 5)::int % 25) * 30 + retried * 200), MAX(CASE WHEN status
  = 'failed' THEN 500 ELSE 200 END), MAX(created_at)
FROM django_qstash_message GROUP BY 1, 2, 3
"""
    hours = f"""
INSERT INTO django_qstash_activityhour (tenant_id, hour, shard, published, delivered, retried,
  failed, canceled, {columns})
SELECT tenant_id, date_trunc('hour', minute), shard, SUM(published), SUM(delivered),
  SUM(retried), SUM(failed), SUM(canceled), {", ".join(f"SUM({c})" for c in columns.split(", "))}
FROM django_qstash_activityminute GROUP BY 1, 2, 3
"""
    return activity, hours, destinations


# Recent traffic the fold has not reached, spread over the last {span} seconds: each message
# CREATED, ACTIVE and DELIVERED with one attempt, as a dispatcher would have left them.
FILL_UNFOLDED = [
    """
INSERT INTO django_qstash_message (id, tenant_id, kind, source_message_id, url, method, headers,
  body, topic_name, endpoint_name, queue_name, schedule_id, caller_ip, max_retries, retried,
  retry_delay_expression, callback, callback_headers, callback_options, failure_callback,
  failure_callback_headers, failure_callback_options, labels, label_index, redact_fields,
  flow_control_key, deduplication_id, status, cancel_requested, not_before, created_at,
  updated_at, finished_at, claim_token)
SELECT 'msg_live' || lpad(i::text, 9, '0'), t.ids[1 + i % 3], 'message', '',
  'https://hooks.example.com/path/' || (i % 100), 'POST', '{}', '', '', '', '', '', '', 3, 0,
  '', '', '{}', '{}', '', '{}', '{}', '[]', '', '[]', '', '', 'delivered', false, ts, ts, ts,
  ts + interval '0.3 second', 1
FROM generate_series(1, {n}) AS i,
     LATERAL (SELECT now() - ({n} - i) * interval '{span} second' / {n} AS ts) AS s,
     (SELECT array_agg(id ORDER BY name) AS ids FROM django_qstash_tenant
      WHERE name LIKE 'bench-%') AS t
""",
    """
INSERT INTO django_qstash_event (tenant_id, message_id, state, time, url, topic_name,
  endpoint_name, queue_name, schedule_id, flow_control_key, labels, label_index, error)
SELECT m.tenant_id, m.id, e.state, m.created_at + e.after, m.url, '', '', '', '', '', '[]', '',
  ''
FROM django_qstash_message m,
     LATERAL (VALUES ('CREATED', interval '0'), ('ACTIVE', interval '0.01 second'),
                     ('DELIVERED', interval '0.3 second')) AS e(state, after)
WHERE m.id LIKE 'msg_live%' ORDER BY m.created_at
""",
    """
INSERT INTO django_qstash_deliveryattempt (message_id, retried, started_at, duration_ms,
  response_status, response_headers, response_body, error)
SELECT id, 0, created_at + interval '0.05 second', 250, 200, '{}', '', ''
FROM django_qstash_message WHERE id LIKE 'msg_live%' ORDER BY created_at
""",
]
PAGES = [
    ("messages", "/admin/django_qstash/message/"),
    ("messages, page 50", "/admin/django_qstash/message/?p=50"),
    ("messages, status=failed", "/admin/django_qstash/message/?status__exact=failed"),
    ("messages, status=pending", "/admin/django_qstash/message/?status__exact=pending"),
    ("messages, one tenant", "/admin/django_qstash/message/?tenant={tenant}"),
    ("messages, queue", "/admin/django_qstash/message/?queue=queue-8"),
    ("messages, destination prefix",
     "/admin/django_qstash/message/?destination=https://hooks.example.com/path/42"),
    ("messages, URL group", "/admin/django_qstash/message/?destination=group-0"),
    ("messages, label", "/admin/django_qstash/message/?label=red"),
    ("messages, past 7 days", "/admin/django_qstash/message/?created_at__gte={week_ago}"),
    ("messages, search by id", "/admin/django_qstash/message/?q=msg_bench000500000"),
    ("message detail", "/admin/django_qstash/message/msg_bench000500000/change/"),
    ("DLQ", "/admin/django_qstash/dlqentry/"),
    ("DLQ, one tenant", "/admin/django_qstash/dlqentry/?tenant={tenant}"),
    ("DLQ, queue", "/admin/django_qstash/dlqentry/?queue=queue-8"),
    ("DLQ, status 5xx", "/admin/django_qstash/dlqentry/?response_status=5xx"),
    ("DLQ, destination",
     "/admin/django_qstash/dlqentry/?destination=https://hooks.example.com/path/92"),
    ("events", "/admin/django_qstash/event/"),
    ("queues", "/admin/django_qstash/queue/"),
    ("flow-control keys", "/admin/django_qstash/flowcontrolkey/"),
    ("/metrics", "/metrics"),
    ("overview, last hour", "/admin/django_qstash/overview/?range=hour"),
    ("overview, last day", "/admin/django_qstash/overview/?range=day"),
    ("overview, last week", "/admin/django_qstash/overview/?range=week"),
    ("overview, last week, one tenant",
     "/admin/django_qstash/overview/?range=week&tenant={tenant}"),
]


OVERVIEW_PAGES = [page for page in PAGES if page[0].startswith("overview")]


def ensure_database(url: str) -> None:
    import psycopg

    base, _, name = url.rpartition("/")
    with psycopg.connect(f"{base}/postgres", autocommit=True) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')


def fill(n: int, refill: bool) -> None:
    from django.db import connection

    from django_qstash.engine.tenants import create_tenant
    from django_qstash.models import FlowControlKey, Message, Queue

    if Message.objects.filter(pk__startswith="msg_bench").exists() and not refill:
        print("data present (use --refill to start over)")
        return
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE django_qstash_event, django_qstash_dlqentry, "
                       "django_qstash_deliveryattempt, django_qstash_message, "
                       "django_qstash_activityminute, django_qstash_activityhour, "
                       "django_qstash_destinationhour")
    tenants = [create_tenant(name) for name in TENANTS]
    for index in range(20):
        Queue.objects.get_or_create(tenant=tenants[index % 3], name=f"queue-{index}")
    for index in range(3):
        FlowControlKey.objects.get_or_create(tenant=tenants[index], key=f"fc-{index}",
                                             defaults={"parallelism_max": 5})
    with connection.cursor() as cursor:
        for label, sql in (("messages", FILL_MESSAGES), ("DLQ", FILL_DLQ), ("events", FILL_EVENTS)):
            step = time.perf_counter()
            cursor.execute(sql.replace("{n}", str(int(n))))
            print(f"  {label}: {cursor.rowcount} rows in {time.perf_counter() - step:.1f}s")
        cursor.execute("ANALYZE")
    print(f"filled in {time.perf_counter() - started:.1f}s")


def fill_rollups() -> None:
    from django.db import connection

    from django_qstash.models import ActivityMinute

    if ActivityMinute.objects.exists():
        return
    with connection.cursor() as cursor:
        for label, sql in zip(("activity per minute", "activity per hour",
                               "destinations per hour"), fill_rollups_sql(), strict=True):
            step = time.perf_counter()
            cursor.execute(sql)
            print(f"  {label}: {cursor.rowcount} rows in {time.perf_counter() - step:.1f}s")
        cursor.execute("ANALYZE")


def mark_folded() -> None:
    """The fold's cursors at the newest event and attempt: where a dispatcher would be."""
    from django.db.models import Max

    from django_qstash.engine.rollup_fold import STATE
    from django_qstash.models import DeliveryAttempt, Event, RollupFold

    events = Event.objects.aggregate(m=Max("id"))["m"] or 0
    attempts = DeliveryAttempt.objects.aggregate(m=Max("id"))["m"] or 0
    RollupFold.objects.update_or_create(name=STATE, defaults={
        "events_folded": events, "attempts_folded": attempts, "marks": []})


def drop_unfolded() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        for table in ("deliveryattempt", "event"):
            cursor.execute(f"DELETE FROM django_qstash_{table} WHERE message_id LIKE 'msg_live%%'")
        cursor.execute("DELETE FROM django_qstash_message WHERE id LIKE 'msg_live%%'")


def fill_unfolded(n: int, span: int) -> None:
    from django.db import connection

    drop_unfolded()
    with connection.cursor() as cursor:
        for label, sql in zip(("messages", "events", "attempts"), FILL_UNFOLDED, strict=True):
            step = time.perf_counter()
            cursor.execute(sql.replace("{n}", str(int(n))).replace("{span}", str(int(span))))
            print(f"  unfolded {label}: {cursor.rowcount} rows in "
                  f"{time.perf_counter() - step:.1f}s")
        cursor.execute("ANALYZE")


def measure(runs: int, pages=PAGES) -> list[tuple[str, float, float, int]]:
    from datetime import timedelta

    from django.contrib.auth import get_user_model
    from django.test import Client
    from django.utils import timezone

    from django_qstash.models import Tenant

    user, _ = get_user_model().objects.get_or_create(
        username="bench-admin", defaults={"is_staff": True, "is_superuser": True})
    client = Client()
    client.force_login(user)
    values = {"tenant": Tenant.objects.get(name="bench-b").pk,
              "week_ago": (timezone.now() - timedelta(days=7)).date().isoformat()}
    results = []
    for label, path in pages:
        url = path.format(**values)
        response = client.get(url)
        assert response.status_code == 200, (url, response.status_code)
        timings = []
        for _ in range(runs):
            started = time.perf_counter()
            response = client.get(url)
            timings.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
        results.append((label, statistics.median(timings), max(timings), len(response.content)))
    return results


def fold_cost() -> None:
    """The fold of the unfolded traffic, as a dispatcher would run it (then rolled back, so
    that a later run finds the rollups as they were filled)."""
    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from django_qstash.engine.rollup_fold import SAFETY_MARGIN, STATE, fold
    from django_qstash.models import DeliveryAttempt, Event, RollupFold

    with transaction.atomic():
        noted = (timezone.now() - 2 * SAFETY_MARGIN).isoformat()
        RollupFold.objects.filter(name=STATE).update(marks=[[
            noted, Event.objects.aggregate(m=Max("id"))["m"],
            DeliveryAttempt.objects.aggregate(m=Max("id"))["m"]]])
        started, batches = time.perf_counter(), 0
        while fold():
            batches += 1
        spent = time.perf_counter() - started
        transaction.set_rollback(True)
    print(f"fold of the unfolded traffic: {spent * 1000:.0f} ms in {batches} batches")


def measure_as_folded(runs: int, live_seconds: int) -> list[tuple[str, float, float, int]]:
    """The overview once the fold has taken everything older than ``live_seconds`` (as a
    dispatcher leaves it), in a transaction rolled back afterwards."""
    from datetime import timedelta

    from django.db import transaction
    from django.db.models import Max
    from django.utils import timezone

    from django_qstash.engine.rollup_fold import STATE, _fold_batch
    from django_qstash.models import DeliveryAttempt, Event, RollupFold

    cutoff = timezone.now() - timedelta(seconds=live_seconds)
    with transaction.atomic():
        state = RollupFold.objects.select_for_update().get(name=STATE)
        events = Event.objects.filter(time__lt=cutoff, id__gt=state.events_folded).aggregate(
            m=Max("id"))["m"] or state.events_folded
        attempts = DeliveryAttempt.objects.filter(
            started_at__lt=cutoff, id__gt=state.attempts_folded).aggregate(
            m=Max("id"))["m"] or state.attempts_folded
        while (state.events_folded, state.attempts_folded) != (events, attempts):
            _fold_batch(state, events, attempts)
        state.save()
        results = measure(runs, OVERVIEW_PAGES)
        transaction.set_rollback(True)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--unfolded", type=int, default=1_000,
                        help="recent messages not folded yet (the fold runs two intervals, "
                             "10 s, behind: 1,000 at 100/s)")
    parser.add_argument("--unfolded-seconds", type=int, default=10,
                        help="the span they are spread over")
    parser.add_argument("--live-seconds", type=int, default=0,
                        help="then again with all but the last this many seconds folded")
    parser.add_argument("--overview-only", action="store_true",
                        help="time the overview pages only")
    args = parser.parse_args()
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        sys.exit("set DATABASE_URL to a PostgreSQL database, see the usage at the top")
    ensure_database(url)
    os.environ.setdefault("DJANGO_ALLOWED_HOSTS", "testserver")

    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", interactive=False, verbosity=0)
    fill(args.messages, args.refill)
    fill_rollups()
    drop_unfolded()  # an earlier run's recent traffic
    mark_folded()
    print(f"{'page':<32} {'median ms':>10} {'max ms':>8} {'bytes':>8}")
    for label, median, worst, size in measure(
            args.runs, OVERVIEW_PAGES if args.overview_only else PAGES):
        print(f"{label:<32} {median:>10.1f} {worst:>8.1f} {size:>8}")
    if args.unfolded:
        fill_unfolded(args.unfolded, args.unfolded_seconds)
        print(f"with {args.unfolded:,} messages over {args.unfolded_seconds} s not folded yet:")
        for label, median, worst, size in measure(args.runs, OVERVIEW_PAGES):
            print(f"{label:<32} {median:>10.1f} {worst:>8.1f} {size:>8}")
        if args.live_seconds:
            print(f"the same, all but the last {args.live_seconds} s folded:")
            for label, median, worst, size in measure_as_folded(args.runs, args.live_seconds):
                print(f"{label:<32} {median:>10.1f} {worst:>8.1f} {size:>8}")
        fold_cost()


if __name__ == "__main__":
    main()
