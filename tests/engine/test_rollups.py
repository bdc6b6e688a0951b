"""Rollup rows: folded from the events off the write path, added up, never counted twice."""

from __future__ import annotations

import threading
from datetime import datetime, timezone

import pytest
from django.db import connection, transaction

from django_qstash.core.clock import FrozenClock, SystemClock, set_clock
from django_qstash.db.bulk_insert import COPY_THRESHOLD, insert_groups, merge_additive
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.rollup_fold import SAFETY_MARGIN, STATE, fold
from django_qstash.engine.rollups import ActivityDraft, DestinationDraft, latency_bucket, origin
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ActivityHour, ActivityMinute, DestinationHour, RollupFold

pytestmark = pytest.mark.django_db(transaction=True)
MINUTE = datetime(2026, 5, 4, 12, 30, tzinfo=timezone.utc)


@pytest.fixture
def frozen():
    clock = FrozenClock(MINUTE.replace(second=15))
    set_clock(clock)
    yield clock
    set_clock(SystemClock())


def minute_row(tenant, **counts) -> ActivityDraft:
    return ActivityDraft(tenant_id=tenant.pk, minute=MINUTE, shard=0, **counts)


def published(tenant) -> int:
    return sum(ActivityMinute.objects.filter(tenant=tenant).values_list("published", flat=True))


def test_rows_with_one_key_add_up_within_and_across_statements():
    tenant = create_tenant("sums")
    # More rows than COPY takes: additive rows never go through COPY, which cannot upsert.
    insert_groups([(ActivityMinute, [minute_row(tenant, published=1, wait_03=1)
                                     for _ in range(COPY_THRESHOLD + 1)])])
    insert_groups([(ActivityMinute, [minute_row(tenant, published=2, failed=1)])])
    row = ActivityMinute.objects.get(tenant=tenant)
    assert (row.published, row.failed, row.wait_03) == (COPY_THRESHOLD + 3, 1, COPY_THRESHOLD + 1)


def test_merging_leaves_the_callers_rows_as_they_were():
    tenant = create_tenant("copies")
    first, second = minute_row(tenant, published=1), minute_row(tenant, published=2)
    [merged] = merge_additive(ActivityMinute, [first, second])
    assert merged.published == 3 and (first.published, second.published) == (1, 2)


def test_the_newest_status_wins_and_a_missing_one_keeps_the_last():
    tenant = create_tenant("latest")
    hour = MINUTE.replace(minute=0)

    def row(status):
        return DestinationDraft(tenant_id=tenant.pk, hour=hour, origin="https://x.example",
                                shard=0, attempts=1, last_status=status)
    insert_groups([(DestinationHour, [row(500)])])
    insert_groups([(DestinationHour, [row(200)])])
    insert_groups([(DestinationHour, [row(None)])])
    saved = DestinationHour.objects.get(tenant=tenant)
    assert (saved.attempts, saved.last_status) == (3, 200)


def publish_delayed(tenant, count: int = 1) -> None:
    for _ in range(count):
        publish_specs(tenant, [prepare(tenant, "https://a.example.com/x", b"",
                                       [("Upstash-Delay", "1h")])])


def fold_all(clock) -> None:
    """Note the newest ids, let the safety margin pass, fold them."""
    fold()
    clock.advance(seconds=SAFETY_MARGIN.total_seconds())
    while fold():
        pass


def hour_published(tenant) -> int:
    return sum(ActivityHour.objects.filter(tenant=tenant).values_list("published", flat=True))


def test_publishing_writes_no_rollup_rows(frozen):
    """The publish path writes the message and its events, nothing for the dashboard."""
    tenant = create_tenant("quiet")
    publish_delayed(tenant, 3)
    assert not ActivityMinute.objects.exists() and not ActivityHour.objects.exists()
    fold_all(frozen)
    assert published(tenant) == hour_published(tenant) == 3


def test_a_mark_is_folded_once_its_writes_are_over_and_nothing_twice(frozen):
    tenant = create_tenant("twice")
    publish_delayed(tenant, 2)
    assert fold() is False  # the newest ids are noted, not folded: nothing was noted before
    publish_delayed(tenant, 1)  # after the note: waits for the next one
    # No transaction that began before the note is open: the note is final without waiting
    # for the margin (the clock has not moved).
    assert fold() is True and published(tenant) == 2
    assert fold() is True and published(tenant) == 3
    for _ in range(3):  # folding again, however often, adds nothing that was folded
        fold()
        assert published(tenant) == hour_published(tenant) == 3


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_row_committed_late_below_a_noted_id_is_neither_lost_nor_counted_twice(frozen):
    """Ids are not committed in order: a transaction holding a lower id that is still open
    keeps the fold short of the note until it ends, then its row is folded exactly once."""
    from django_qstash.engine.rollup_fold import unfolded
    from django_qstash.models import Event

    tenant = create_tenant("late")
    inserted, release, errors = threading.Event(), threading.Event(), []

    def slow_writer():
        try:
            with transaction.atomic():
                Event.objects.create(tenant=tenant, message_id="msg_late", state="CREATED",
                                     time=frozen.now(), url="https://a.example.com/x")
                inserted.set()
                release.wait(10)
        except Exception as exc:  # noqa: BLE001  collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()

    writer = threading.Thread(target=slow_writer)
    writer.start()
    assert inserted.wait(10)
    publish_delayed(tenant, 1)  # a higher id, committed first
    assert fold() is False  # notes the newest ids: the late row's is below them
    assert fold() is False and published(tenant) == 0  # its transaction is still open

    def live() -> int:
        return sum(row.published for model, rows in unfolded([tenant.pk])
                   if model is ActivityMinute for row in rows)
    assert live() == 1  # the page counts what is committed, and only that
    release.set()
    writer.join()
    assert not errors and live() == 2
    assert fold() is True and published(tenant) == 2 and live() == 0
    for _ in range(3):
        fold()
    assert published(tenant) == hour_published(tenant) == 2


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_when_other_sessions_are_hidden_a_mark_waits_for_the_margin(frozen, monkeypatch):
    from django_qstash.engine import rollup_fold

    monkeypatch.setattr(rollup_fold, "oldest_open_transaction", lambda: rollup_fold.UNKNOWN)
    tenant = create_tenant("hidden")
    publish_delayed(tenant, 2)
    fold()
    frozen.advance(seconds=SAFETY_MARGIN.total_seconds() - 1)
    assert fold() is False and published(tenant) == 0
    frozen.advance(seconds=1)
    assert fold() is True and published(tenant) == 2


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_a_folder_holding_the_lock_keeps_the_others_out(frozen):
    """Several dispatchers: one folds, the others skip the locked row and count nothing."""
    tenant = create_tenant("locked")
    publish_delayed(tenant, 2)
    fold()
    frozen.advance(seconds=SAFETY_MARGIN.total_seconds())
    answers = []
    holding, done = threading.Event(), threading.Event()

    def hold_the_lock():
        try:
            with transaction.atomic():
                RollupFold.objects.select_for_update().get(name=STATE)
                holding.set()
                done.wait(10)
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_lock)
    holder.start()
    holding.wait(10)
    answers.append(fold())  # returns at once: SKIP LOCKED, no wait
    done.set()
    holder.join()
    assert answers == [False] and published(tenant) == 0
    assert fold() is True and published(tenant) == 2


@pytest.mark.skipif("connection.vendor != 'postgresql'")
def test_dispatchers_folding_at_once_count_every_event_once(frozen):
    tenant = create_tenant("racing")
    publish_delayed(tenant, 5)
    fold()
    frozen.advance(seconds=SAFETY_MARGIN.total_seconds())
    start, results, errors = threading.Barrier(4), [], []

    def race():
        try:
            start.wait(10)
            results.append(fold())
        except Exception as exc:  # noqa: BLE001  collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()
    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors and results.count(True) == 1
    assert published(tenant) == hour_published(tenant) == 5


def test_concurrent_publishes_count_every_message(frozen):
    """Publishes sharing a group commit (and its statement) are all folded; none is lost."""
    tenant = create_tenant("busy")
    errors = []

    def publish_some():
        try:
            for _ in range(10):
                publish_specs(tenant, [prepare(tenant, "https://a.example.com/x", b"",
                                               [("Upstash-Delay", "1h")])])
        except Exception as exc:  # noqa: BLE001  collected for the assertion below
            errors.append(exc)
        finally:
            connection.close()
    threads = [threading.Thread(target=publish_some) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    fold_all(frozen)
    assert published(tenant) == hour_published(tenant) == 60


def test_latency_buckets_and_origins():
    assert [latency_bucket(ms) for ms in (-5, 0, 10, 11, 3_600_000, 3_600_001)] == \
        [0, 0, 0, 1, 14, 15]
    # Credentials never reach the dashboard.
    assert origin("https://user:secret@Host.example:8443/a/b?c") == "https://host.example:8443"
    assert origin("not a url") == ""
    assert origin("http://[::1]:8080/x") == "http://[::1]:8080"


def test_purge_keeps_a_week_of_minutes_and_a_quarter_of_hours():
    from datetime import timedelta

    from django_qstash.engine.retention import Policy, purge
    from django_qstash.engine.rollups import HourDraft

    tenant = create_tenant("old")
    now = MINUTE
    minutes = [now - timedelta(days=days) for days in (1, 7, 9)]
    hours = [now - timedelta(days=days) for days in (9, 89, 91)]
    insert_groups([(ActivityMinute, [ActivityDraft(tenant_id=tenant.pk, minute=m, published=1)
                                     for m in minutes]),
                   (ActivityHour, [HourDraft(tenant_id=tenant.pk, hour=h, published=1)
                                   for h in hours])])
    policy = Policy(messages=None, events=None, dlq=None, batch_size=100)
    assert purge(policy, now=now, kinds=("rollups",)) == {"rollups": 2}
    assert sorted(ActivityMinute.objects.values_list("minute", flat=True)) == minutes[1::-1]
    assert sorted(ActivityHour.objects.values_list("hour", flat=True)) == hours[1::-1]


def test_one_statement_writes_one_row_per_key_whatever_the_writers_shards():
    tenant = create_tenant("shards")
    rows = [ActivityDraft(tenant_id=tenant.pk, minute=MINUTE, shard=shard, published=1)
            for shard in (0, 1, 2, 3, 1)]
    insert_groups([(ActivityMinute, rows)])
    assert list(ActivityMinute.objects.filter(tenant=tenant).values_list("published", flat=True)) \
        == [5]
    assert [r.published for r in rows] == [1] * 5


@pytest.mark.parametrize("retries", [0, 1])
def test_folded_latencies_land_in_the_buckets_they_belong_to(frozen, retries):
    """The fold buckets in SQL; each latency lands where ``latency_bucket`` puts it, also on
    a bound and a microsecond either side of it."""
    from datetime import timedelta

    from django_qstash.core.attempts import DeliveryOutcome
    from django_qstash.engine.lifecycle import record_outcome
    from django_qstash.engine.transitions import claim
    from django_qstash.models import Message
    from django_qstash.models.rollup import done_column, wait_column

    tenant = create_tenant(f"buckets-{retries}")
    waits_ms = [0, 9.999, 10, 10.001, 25, 999.999, 1_000, 2_500.001, 3_600_000, 3_600_000.001]
    ids = [p.message_id for p in publish_specs(tenant, [
        prepare(tenant, "https://a.example.com/x", b"", [("Upstash-Delay", "30s"),
                                                         ("Upstash-Retries", str(retries))])
        for _ in waits_ms])]
    due = frozen.now() + timedelta(seconds=30)
    with transaction.atomic():
        claim(list(Message.objects.select_for_update().filter(pk__in=ids)), due)
    # Failing with a retry left moves the message's due time: the first claim stands in.
    status = 500 if retries else 200
    for message, wait in zip(Message.objects.filter(pk__in=ids).order_by("created_at", "id"),
                             sorted(waits_ms), strict=True):
        record_outcome(message.id, message.claim_token, DeliveryOutcome(
            status=status, headers={}, body=b"", error="", duration_ms=7),
            due + timedelta(milliseconds=wait))
    fold_all(frozen)
    rows = ActivityMinute.objects.filter(tenant=tenant)
    wait_counts = [sum(getattr(r, wait_column(b)) for r in rows) for b in range(16)]
    expected = [0] * 16
    for wait in waits_ms:
        expected[latency_bucket(wait)] += 1
    assert wait_counts == expected, str((wait_counts, expected))
    done_counts = [sum(getattr(r, done_column(b)) for r in rows) for b in range(16)]
    expected_done = [0] * 16
    if not retries:
        for wait in waits_ms:
            expected_done[latency_bucket(30_000 + wait + 7)] += 1
    assert done_counts == expected_done


def test_the_dispatchers_tick_folds_every_few_seconds(frozen, monkeypatch):
    from django_qstash.engine import rollup_fold
    from django_qstash.engine.dispatcher import Dispatcher

    tenant = create_tenant("ticks")
    publish_delayed(tenant, 2)
    dispatcher = Dispatcher(interval=0)
    monkeypatch.setattr(rollup_fold, "_last_try", 0.0)  # as if the last try was long ago
    dispatcher.tick()  # notes the newest ids
    frozen.advance(seconds=SAFETY_MARGIN.total_seconds())
    dispatcher.tick()  # within the interval: no fold yet
    assert published(tenant) == 0
    monkeypatch.setattr(rollup_fold, "_last_try", 0.0)
    dispatcher.tick()
    assert published(tenant) == hour_published(tenant) == 2


def test_periods_are_utc_minutes_and_hours_whatever_the_time_zone(frozen, settings):
    settings.TIME_ZONE = "Asia/Kolkata"  # UTC+05:30: its hours start at :30 UTC
    tenant = create_tenant("kolkata")
    publish_delayed(tenant, 1)
    fold_all(frozen)
    assert list(ActivityMinute.objects.filter(tenant=tenant).values_list("minute", flat=True)) \
        == [MINUTE]
    assert list(ActivityHour.objects.filter(tenant=tenant).values_list("hour", flat=True)) \
        == [MINUTE.replace(minute=0)]


def test_a_running_dispatcher_folds_within_seconds_not_minutes(qstash, sink):
    """The real stack (API, dispatcher thread, workers): once the traffic is delivered, the
    fold catches up with it in a few fold intervals, with nothing left for the page to read
    live and every message counted once."""
    import time

    from django_qstash.engine.rollup_fold import INTERVAL_SECONDS, unfolded
    from tests.e2e.helpers import publish, wait_for_state

    sent = [publish(qstash, f"{sink.url}/ok", "x") for _ in range(12)]
    for message_id in sent:
        wait_for_state(qstash, message_id, "DELIVERED")
    started = time.monotonic()
    deadline = started + 6 * INTERVAL_SECONDS  # far below the two-minute margin
    while any(rows for _, rows in unfolded()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(rows for _, rows in unfolded()), "the fold did not catch up"
    counts = ActivityMinute.objects.filter(tenant=qstash.tenant).values_list(
        "published", "delivered")
    assert [sum(column) for column in zip(*counts, strict=True)] == [12, 12]
