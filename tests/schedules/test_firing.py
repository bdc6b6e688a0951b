"""Firing due schedules with an injected clock: slots, catch-up, pauses, edits, fan-out."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone

import pytest
from django.db import OperationalError, connection

from django_qstash.engine import scheduler
from django_qstash.models import Event, Message, Queue, Schedule, UrlGroup, UrlGroupEndpoint

UTC = timezone.utc
URL = "https://example.com/hook"


def create(tenant, cron="*/5 * * * *", destination=URL, body=b"payload", **headers):
    pairs = [("Upstash-Cron", cron), *((k.replace("_", "-"), v) for k, v in headers.items())]
    return scheduler.create_or_replace(tenant, destination, body, pairs, "10.0.0.1")


def produced(schedule_id: str) -> list[Message]:
    return list(Message.objects.filter(schedule_id=schedule_id).order_by("created_at", "id"))


def test_fires_at_its_slot_once_and_advances(tenant, frozen_clock):
    schedule = create(tenant, Content_Type="text/plain", Upstash_Forward_X_Test="1")
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 5, tzinfo=UTC)
    frozen_clock.set(datetime(2026, 3, 2, 9, 4, 59, tzinfo=UTC))
    assert scheduler.fire_due() == 0
    frozen_clock.set(datetime(2026, 3, 2, 9, 5, 0, 300000, tzinfo=UTC))
    assert scheduler.fire_due() == 1
    assert scheduler.fire_due() == 0
    [message] = produced(schedule.schedule_id)
    assert (message.url, bytes(message.body), message.caller_ip) == (URL, b"payload", "10.0.0.1")
    assert message.headers == {"Content-Type": ["text/plain"], "X-Test": ["1"]}
    schedule.refresh_from_db()
    assert schedule.last_schedule_time == frozen_clock.now()
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 10, tzinfo=UTC)
    assert schedule.last_schedule_states == {message.id: "IN_PROGRESS"}
    assert schedule.last_error == ""


def test_missed_slots_fire_once_after_downtime(tenant, frozen_clock):
    schedule = create(tenant, cron="* * * * *")
    frozen_clock.advance(hours=3)  # the dispatcher was down for 180 slots
    assert scheduler.fire_due() == 1
    assert scheduler.fire_due() == 0
    assert len(produced(schedule.schedule_id)) == 1
    schedule.refresh_from_db()
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 12, 1, tzinfo=UTC)


def test_paused_schedule_does_not_fire_and_resume_does_not_owe_slots(tenant, frozen_clock):
    schedule = create(tenant, cron="* * * * *")
    scheduler.set_paused(schedule, True)
    frozen_clock.advance(minutes=10)
    assert scheduler.fire_due() == 0
    scheduler.set_paused(schedule, False)
    schedule.refresh_from_db()
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 11, tzinfo=UTC)
    assert scheduler.fire_due() == 0
    frozen_clock.advance(minutes=1)
    assert scheduler.fire_due() == 1


def test_overwrite_takes_effect_on_the_next_tick(tenant, frozen_clock):
    create(tenant, cron="* * * * *", Upstash_Schedule_Id="daily-report")
    frozen_clock.advance(minutes=1)
    scheduler.fire_due()
    create(tenant, cron="*/2 * * * *", destination="https://example.com/v2", body=b"",
           Upstash_Schedule_Id="daily-report", Upstash_Retries="0")
    assert Schedule.objects.filter(schedule_id="daily-report").count() == 1
    frozen_clock.set(datetime(2026, 3, 2, 9, 2, 0, tzinfo=UTC))
    assert scheduler.fire_due() == 1
    latest = produced("daily-report")[-1]
    assert (latest.url, bytes(latest.body), latest.max_retries) == (
        "https://example.com/v2", b"", 0)
    frozen_clock.set(datetime(2026, 3, 2, 9, 3, 0, tzinfo=UTC))
    assert scheduler.fire_due() == 0  # "*/2" now


def test_delay_applies_to_each_message_also_on_a_queue(tenant, frozen_clock):
    create(tenant, cron="* * * * *", Upstash_Delay="30s", Upstash_Queue_Name="reports",
           Upstash_Schedule_Id="queued")
    frozen_clock.advance(minutes=1)
    scheduler.fire_due()
    [message] = produced("queued")
    assert message.queue_name == "reports"
    assert message.not_before == frozen_clock.now() + timedelta(seconds=30)
    assert Queue.objects.filter(tenant=tenant, name="reports").exists()


def test_url_group_fans_out_with_group_defaults_then_records_errors(tenant, frozen_clock):
    group = UrlGroup.objects.create(tenant=tenant, name="team",
                                    default_headers={"Upstash-Retries": "7"})
    for n in (1, 2):
        UrlGroupEndpoint.objects.create(group=group, url=f"https://example.com/{n}", name=f"e{n}")
    schedule = create(tenant, cron="* * * * *", destination="team")
    frozen_clock.advance(minutes=1)
    scheduler.fire_due()
    messages = produced(schedule.schedule_id)
    assert sorted(m.url for m in messages) == ["https://example.com/1", "https://example.com/2"]
    assert {m.topic_name for m in messages} == {"team"} and {m.max_retries for m in messages} == {7}
    schedule.refresh_from_db()
    assert set(schedule.last_schedule_states) == {m.id for m in messages}
    group.delete()
    frozen_clock.advance(minutes=1)
    assert scheduler.fire_due() == 1
    schedule.refresh_from_db()
    assert "team" in schedule.last_error and schedule.last_schedule_states == {}
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 3, tzinfo=UTC)


def test_many_schedules_fire_in_chunks(tenant, frozen_clock):
    for n in range(25):
        create(tenant, cron="* * * * *", Upstash_Schedule_Id=f"s{n}")
    frozen_clock.advance(minutes=1)
    assert scheduler.fire_due(chunk_size=10) == 25
    assert Message.objects.filter(tenant=tenant).count() == 25


def test_a_poisoned_schedule_does_not_stop_its_chunk(tenant, frozen_clock, monkeypatch):
    real = scheduler.publish_specs

    def publish_specs(tenant, specs):
        if any(spec.schedule_id == "poison" for spec in specs):
            raise ValueError("cannot store this one")
        return real(tenant, specs)

    monkeypatch.setattr(scheduler, "publish_specs", publish_specs)
    for schedule_id in ("fine-1", "poison", "fine-2"):
        create(tenant, cron="* * * * *", Upstash_Schedule_Id=schedule_id)
    frozen_clock.advance(minutes=1)
    assert scheduler.fire_due() == 3
    assert len(produced("fine-1")) == len(produced("fine-2")) == 1 and not produced("poison")
    poison = Schedule.objects.get(schedule_id="poison")
    assert poison.last_error == "cannot store this one"
    assert poison.next_schedule_time == datetime(2026, 3, 2, 9, 2, tzinfo=UTC)


@pytest.fixture
def poisoned_schedule_rows():
    """The database itself refuses messages of the schedule "poison" (a trigger), as it would
    a row it cannot store: the error comes from the INSERT, inside the chunk's transaction."""
    table = Message._meta.db_table
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                "CREATE FUNCTION qstash_test_refuse_poison() RETURNS trigger AS $$ BEGIN "
                "IF NEW.schedule_id = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql")
            cursor.execute(f"CREATE TRIGGER qstash_test_poison BEFORE INSERT ON {table} "
                           "FOR EACH ROW EXECUTE FUNCTION qstash_test_refuse_poison()")
        else:
            cursor.execute(f"CREATE TRIGGER qstash_test_poison BEFORE INSERT ON {table} "
                           "WHEN NEW.schedule_id = 'poison' "
                           "BEGIN SELECT RAISE(ABORT, 'poisoned row'); END")
    yield  # the test's transaction rolls the trigger back with everything else


def test_a_schedule_the_database_refuses_does_not_stall_the_others(
        tenant, frozen_clock, poisoned_schedule_rows):
    for schedule_id in ("fine-1", "poison", "fine-2"):
        create(tenant, cron="* * * * *", Upstash_Schedule_Id=schedule_id)
    create(tenant, cron="* * * * *", Upstash_Schedule_Id="next-chunk")
    frozen_clock.advance(minutes=1)
    assert scheduler.fire_due(chunk_size=3) == 4
    for schedule_id in ("fine-1", "fine-2", "next-chunk"):
        [message] = produced(schedule_id)
        schedule = Schedule.objects.get(schedule_id=schedule_id)
        assert schedule.last_schedule_states == {message.id: "IN_PROGRESS"}
        assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
    assert not produced("poison")
    poison = Schedule.objects.get(schedule_id="poison")
    assert "poisoned row" in poison.last_error and poison.last_schedule_states == {}
    assert poison.next_schedule_time == datetime(2026, 3, 2, 9, 2, tzinfo=UTC)
    assert scheduler.fire_due(chunk_size=3) == 0  # every slot advanced: nothing is retried


def test_run_now_of_a_refused_schedule_records_the_error(
        tenant, frozen_clock, poisoned_schedule_rows):
    schedule = scheduler.run_now(create(tenant, Upstash_Schedule_Id="poison"))
    assert "poisoned row" in schedule.last_error and not produced("poison")
    schedule.refresh_from_db()
    assert "poisoned row" in schedule.last_error


def test_a_lost_database_connection_rolls_the_chunk_back(tenant, frozen_clock, monkeypatch):
    def publish_specs(tenant, specs):
        raise OperationalError("server closed the connection")

    monkeypatch.setattr(scheduler, "publish_specs", publish_specs)
    schedule = create(tenant, cron="* * * * *")
    frozen_clock.advance(minutes=1)
    with pytest.raises(OperationalError):
        scheduler.fire_due()
    schedule.refresh_from_db()  # untouched: the next tick fires the slot
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 1, tzinfo=UTC)


def test_states_follow_the_produced_messages(tenant, frozen_clock):
    group = UrlGroup.objects.create(tenant=tenant, name="three")
    for n in range(3):
        UrlGroupEndpoint.objects.create(group=group, url=f"https://example.com/{n}")
    schedule = create(tenant, cron="* * * * *", destination="three")
    frozen_clock.advance(minutes=1)
    scheduler.fire_due()
    delivered, failed, gone = produced(schedule.schedule_id)
    Message.objects.filter(pk=delivered.pk).update(status=Message.Status.DELIVERED)
    Message.objects.filter(pk=failed.pk).update(status=Message.Status.FAILED)
    Event.objects.create(tenant=tenant, message_id=gone.id, state=Event.State.DELIVERED,
                         time=frozen_clock.now(), url=gone.url)
    Message.objects.filter(pk=gone.pk).delete()  # purged after delivery; the log remembers
    schedule.refresh_from_db()
    assert scheduler.produced_states([schedule])[schedule.pk] == {
        delivered.id: "SUCCESS", failed.id: "FAIL", gone.id: "SUCCESS"}


def test_run_now_publishes_without_moving_the_slot(tenant, frozen_clock):
    schedule = create(tenant)
    slot = schedule.next_schedule_time
    scheduler.run_now(schedule)
    schedule.refresh_from_db()
    assert len(produced(schedule.schedule_id)) == 1 and schedule.next_schedule_time == slot


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL row locks")
def test_concurrent_dispatchers_fire_each_slot_exactly_once(frozen_clock):
    from django_qstash.engine.tenants import create_tenant

    tenant = create_tenant("race")
    for n in range(120):  # delayed, so nothing is handed to workers during the race
        create(tenant, cron="* * * * *", Upstash_Schedule_Id=f"race-{n}", Upstash_Delay="1h")
    for _slot in range(2):
        frozen_clock.advance(minutes=1)
        barrier, errors, counts = threading.Barrier(4), [], []

        def dispatcher():
            try:
                barrier.wait()
                counts.append(scheduler.fire_due(chunk_size=7))
            except Exception as exc:  # surfaced below; a thread cannot fail the test itself
                errors.append(exc)
            finally:
                connection.close()

        threads = [threading.Thread(target=dispatcher) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(60)
        assert not errors and sum(counts) == 120
    per_schedule = {}
    for schedule_id in Message.objects.filter(tenant=tenant).values_list("schedule_id", flat=True):
        per_schedule[schedule_id] = per_schedule.get(schedule_id, 0) + 1
    assert len(per_schedule) == 120 and set(per_schedule.values()) == {2}


def test_deleting_a_schedule_leaves_the_message_it_produced_to_go_on(tenant, frozen_clock):
    schedule = create(tenant, cron="* * * * *")
    frozen_clock.advance(minutes=1)
    assert scheduler.fire_due() == 1
    [message] = produced(schedule.schedule_id)
    scheduler.delete(tenant, schedule.schedule_id)
    message.refresh_from_db()
    assert not message.is_finished and not message.cancel_requested
    frozen_clock.advance(minutes=5)
    assert scheduler.fire_due() == 0 and len(produced(schedule.schedule_id)) == 1
