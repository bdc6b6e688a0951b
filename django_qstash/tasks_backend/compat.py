"""The task API from Django itself (6.0+) or from the ``django-tasks`` backport, by one name."""

from __future__ import annotations

from traceback import format_exception
from typing import Any

try:  # Django 6.0 and later ship the API...
    from django.tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django.tasks.backends.base import BaseTaskBackend
    from django.tasks.base import Task, TaskError
    from django.tasks.exceptions import InvalidTask as InvalidTaskError
    from django.tasks.exceptions import TaskResultDoesNotExist
    from django.tasks.signals import task_enqueued, task_finished, task_started
    from django.utils.json import normalize_json
except ImportError:  # ...older ones have the backport (pip install 'django-qstash-server[tasks]')
    from django_tasks import TaskContext, TaskResult, TaskResultStatus, task_backends
    from django_tasks.backends.base import BaseTaskBackend
    from django_tasks.base import Task, TaskError
    from django_tasks.exceptions import InvalidTaskError, TaskResultDoesNotExist
    from django_tasks.signals import task_enqueued, task_finished, task_started
    from django_tasks.utils import normalize_json


# Written here rather than imported: the API's private helpers moved between releases.
def get_module_path(value: Any) -> str:
    return f"{value.__module__}.{value.__qualname__}"


def get_exception_traceback(exc: BaseException) -> str:
    return "".join(format_exception(exc))


__all__ = [
    "BaseTaskBackend", "InvalidTaskError", "Task", "TaskContext", "TaskError", "TaskResult",
    "TaskResultDoesNotExist", "TaskResultStatus", "get_exception_traceback", "get_module_path",
    "normalize_json", "task_backends", "task_enqueued", "task_finished", "task_started",
]
