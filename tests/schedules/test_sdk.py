"""The official ``qstash`` SDK's schedule API against our live server."""

from __future__ import annotations

import pytest
from qstash import QStash
from qstash.schedule import ScheduleState

from django_qstash.models import Message, Queue, Schedule

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def client(qstash):
    return QStash(qstash.token, base_url=qstash.url, retry=False)


def test_schedule_lifecycle_with_the_sdk(client):
    schedule_id = client.schedule.create_json(
        cron="1 1 1 1 1", destination="https://example.com", body={"ex_key": "ex_value"},
        headers={"Test-Header": "v"}, retries=4, delay=30, timeout="15s", label="sdk",
        callback="https://example.com/cb", callback_headers={"Upstash-Callback-Forward-Cb": "1"},
        flow_control={"key": "fc", "parallelism": 3, "period": "1m"})
    schedule = client.schedule.get(schedule_id)
    assert (schedule.schedule_id, schedule.cron, schedule.destination) == (
        schedule_id, "1 1 1 1 1", "https://example.com")
    assert schedule.body == '{"ex_key": "ex_value"}' and schedule.body_base64 is None
    assert schedule.headers == {"Content-Type": ["application/json"], "Test-Header": ["v"]}
    assert (schedule.retries, schedule.delay, schedule.timeout, schedule.label) == (
        4, 30, 15, "sdk")
    assert schedule.callback_headers == {"Cb": ["1"]}
    assert schedule.caller_ip == "127.0.0.1" and schedule.paused is False
    assert schedule.flow_control.key == "fc" and schedule.flow_control.parallelism == 3
    assert schedule.flow_control.period == 60
    assert schedule.next_schedule_time > schedule.created_at
    assert [s.schedule_id for s in client.schedule.list()] == [schedule_id]

    client.schedule.pause(schedule_id)
    assert client.schedule.get(schedule_id).paused is True
    client.schedule.resume(schedule_id)
    assert client.schedule.get(schedule_id).paused is False

    client.schedule.delete(schedule_id)
    assert client.schedule.list() == []


def test_create_with_id_queue_and_states(client, qstash):
    schedule_id = client.schedule.create(
        cron="CRON_TZ=Europe/Berlin 0 9 * * *", destination="https://example.com/q",
        body="plain", content_type="text/plain", schedule_id="sdk-sched", queue="sdk-queue",
        method="PUT")
    assert schedule_id == "sdk-sched"
    schedule = client.schedule.get("sdk-sched")
    assert (schedule.queue, schedule.method, schedule.body) == ("sdk-queue", "PUT", "plain")
    assert schedule.last_schedule_states is None

    from django_qstash.engine import scheduler

    # A paused queue keeps the live dispatcher from delivering the produced message.
    Queue.objects.create(tenant=qstash.tenant, name="sdk-queue", paused=True)
    scheduler.run_now(Schedule.objects.get(schedule_id="sdk-sched"))
    message = Message.objects.get(schedule_id="sdk-sched")
    Message.objects.filter(pk=message.pk).update(status=Message.Status.FAILED)
    schedule = client.schedule.get("sdk-sched")
    assert schedule.last_schedule_states == {message.id: ScheduleState.FAIL}
    assert schedule.last_schedule_time is not None and schedule.error is None
