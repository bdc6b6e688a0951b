"""What the backport's own backend tests expect of any backend, checked on this one."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django_tasks import TaskResultStatus, default_task_backend
from django_tasks.exceptions import InvalidTaskError, TaskResultMismatch

from tests.tasks_backend import tasks
from tests.tasks_backend.conftest import wait_finished


def test_args_kwargs_timestamps_and_task_identity(tasks_on_qstash):
    result = tasks.noop.enqueue(1, two=3)
    wait_finished(result)
    assert result.status == TaskResultStatus.SUCCESSFUL and result.return_value is None
    assert (result.args, result.kwargs, result.task) == ([1], {"two": 3}, tasks.noop)
    assert result.enqueued_at <= result.started_at <= result.finished_at
    assert result.last_attempted_at >= result.started_at
    with pytest.raises(TaskResultMismatch):
        tasks.add.get_result(result.id)


def test_system_exit_fails_the_task_not_the_server(tasks_on_qstash, settings):
    from tests.tasks_backend.conftest import backend_settings

    settings.TASKS = backend_settings(tasks_on_qstash.url, RETRIES=0)
    result = tasks.exit_task.enqueue()
    wait_finished(result)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is SystemExit
    assert result.errors[0].traceback.endswith("SystemExit: This task failed due to SystemExit\n")
    assert wait_finished(tasks.add.enqueue(1, 1)).return_value == 2  # still serving


def test_a_return_value_json_cannot_hold_fails_the_task(tasks_on_qstash, settings):
    from tests.tasks_backend.conftest import backend_settings

    settings.TASKS = backend_settings(tasks_on_qstash.url, RETRIES=0)
    result = tasks.unserializable_return_value.enqueue()
    wait_finished(result)
    assert result.status == TaskResultStatus.FAILED
    assert result.errors[0].exception_class is TypeError


def test_validation_before_anything_is_written(db):
    with pytest.raises(InvalidTaskError, match="aware"):
        tasks.noop.using(run_after=datetime.now() + timedelta(seconds=5))  # noqa: DTZ005
    with pytest.raises(InvalidTaskError, match="Queue"):
        tasks.noop.using(queue_name="unknown")
    with pytest.raises(TypeError):
        tasks.noop.enqueue(object())
    assert default_task_backend.supports_defer and default_task_backend.supports_get_result
    assert default_task_backend.supports_async_task
