"""Django's task API end to end on a live server with the in-process transport."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta

import pytest
from asgiref.sync import sync_to_async
from django.db import connections
from django.utils import timezone
from django_tasks import TaskResultStatus, default_task_backend
from django_tasks.exceptions import TaskResultDoesNotExist

from django_qstash.models import Message, TaskResultRecord
from tests.e2e.helpers import api, wait_for_state
from tests.tasks_backend import tasks
from tests.tasks_backend.conftest import backend_settings, wait_finished


def test_enqueue_runs_the_task_and_get_result_reads_its_return_value(tasks_on_qstash,
                                                                     task_signals):
    result = tasks.add.enqueue(2, 3)
    assert result.status == TaskResultStatus.READY and result.enqueued_at is not None
    wait_finished(result)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == 5 and result.errors == [] and result.attempts == 1
    assert result.started_at <= result.finished_at and result.worker_ids[0]
    fetched = default_task_backend.get_result(result.id)
    assert (fetched.return_value, fetched.args, fetched.task.func) == (5, [2, 3], tasks.add.func)
    assert tasks.add.get_result(result.id).status == TaskResultStatus.SUCCESSFUL
    assert task_signals.for_result(result.id) == [
        ("enqueued", "READY"), ("started", "RUNNING"), ("finished", "SUCCESSFUL")]
    # The task travelled as a message of the tenant, through a FIFO queue, and was delivered.
    message = Message.objects.get(pk=TaskResultRecord.objects.get(pk=result.id).message_id)
    assert message.queue_name == "tasks-default"
    assert "DELIVERED" in wait_for_state(tasks_on_qstash, message.id, "DELIVERED")


def test_failure_retries_with_backoff_then_lands_in_the_dlq(qstash, settings, task_signals):
    settings.TASKS = backend_settings(qstash.url, RETRIES=2)
    result = tasks.fail.enqueue("boom")
    wait_finished(result)
    assert result.status == TaskResultStatus.FAILED
    assert result.attempts == 3 and len(result.errors) == 3
    assert {e.exception_class_path for e in result.errors} == {"builtins.ValueError"}
    assert result.errors[-1].exception_class is ValueError
    assert "ValueError: boom" in result.errors[-1].traceback
    with pytest.raises(ValueError, match="Task failed"):
        result.return_value  # noqa: B018
    message_id = TaskResultRecord.objects.get(pk=result.id).message_id
    wait_for_state(qstash, message_id, "FAILED")
    dlq = api(qstash, "GET", "/v2/dlq").json()["messages"]
    assert [m["responseStatus"] for m in dlq if m["messageId"] == message_id] == [500]
    statuses = task_signals.for_result(result.id)
    assert statuses.count(("started", "RUNNING")) == 3
    assert [s for s in statuses if s[0] == "finished"] == [
        ("finished", "READY"), ("finished", "READY"), ("finished", "FAILED")]


def test_context_attempt_follows_the_delivery_retries(tasks_on_qstash):
    result = tasks.succeed_on_attempt.enqueue(3)
    wait_finished(result)
    assert result.status == TaskResultStatus.SUCCESSFUL
    assert result.return_value == {"attempt": 3, "id": result.id}
    assert result.attempts == 3 and len(result.errors) == 2


def test_run_after_defers_the_task_and_keeps_its_queue(tasks_on_qstash):
    run_after = timezone.now() + timedelta(seconds=2)
    result = tasks.shout.using(run_after=run_after).enqueue("later")
    time.sleep(0.5)
    result.refresh()
    assert result.status == TaskResultStatus.READY and result.started_at is None
    wait_finished(result)
    assert result.return_value == "LATER" and result.started_at >= run_after
    # Released into the task's own FIFO queue once due.
    record = TaskResultRecord.objects.get(pk=result.id)
    assert Message.objects.get(pk=record.message_id).queue_name == "tasks-emails"


def test_async_task_with_aenqueue_and_aget_result(tasks_on_qstash):
    async def scenario():
        result = await tasks.double_later.aenqueue(21)
        deadline = time.monotonic() + 30
        while not result.is_finished and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
            await result.arefresh()
        fetched = await default_task_backend.aget_result(result.id)
        # The thread sync_to_async ran the queries in keeps its connection otherwise.
        await sync_to_async(connections.close_all, thread_sensitive=True)()
        return result, fetched

    result, fetched = asyncio.run(scenario())
    assert result.return_value == 42 and fetched.return_value == 42


def test_a_task_enqueued_in_a_rolled_back_transaction_never_runs(tasks_on_qstash,
                                                                 task_signals):
    outer = tasks.enqueue_inside_rolled_back_transaction.enqueue()
    wait_finished(outer)
    inner_id = outer.return_value
    with pytest.raises(TaskResultDoesNotExist):
        default_task_backend.get_result(inner_id)
    assert task_signals.for_result(inner_id) == []
    time.sleep(0.5)  # a message that slipped out would be delivered by now
    assert Message.objects.filter(url__endswith="/qstash/tasks/default").count() == 1
