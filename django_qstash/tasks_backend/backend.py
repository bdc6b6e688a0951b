"""``QStashTaskBackend``: Django's task API, run as signed deliveries of this server."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.core import checks
from django.core.exceptions import ImproperlyConfigured
from django.db import transaction
from django.urls import get_script_prefix, reverse
from django.utils.crypto import get_random_string

from django_qstash.core import clock
from django_qstash.models import TaskResultRecord
from django_qstash.tasks_backend import sending, store
from django_qstash.tasks_backend.compat import (
    BaseTaskBackend,
    Task,
    TaskResult,
    normalize_json,
    task_enqueued,
)
from django_qstash.tasks_backend.options import TaskOptions


class QStashTaskBackend(BaseTaskBackend):
    """Each enqueue is a result row and a message, written in the caller's transaction."""

    supports_defer = True  # run_after becomes the message's not-before time
    supports_async_task = True
    supports_get_result = True
    # Messages leave in FIFO order per queue or as their flow-control key allows; nothing here
    # orders them by priority, so priorities other than the default are refused.
    supports_priority = False

    def __init__(self, alias: str, params: dict) -> None:
        super().__init__(alias, params)
        self.task_options = TaskOptions.from_options(self.options)

    def endpoint_url(self) -> str:
        """Where this backend's messages are delivered: the site's own execution endpoint."""
        if not self.task_options.base_url:
            raise ImproperlyConfigured(
                f"TASKS[{self.alias!r}] needs OPTIONS['BASE_URL'] (or QSTASH['PUBLIC_URL']): "
                f"the URL at which the delivery engine reaches this site")
        # The path below the site's mount point: BASE_URL carries any prefix (SCRIPT_NAME),
        # which request threads would otherwise add and other processes would not.
        path = reverse("qstash-task-run", args=[self.alias]).removeprefix(get_script_prefix())
        return f"{self.task_options.base_url}/{path}"

    def enqueue(self, task: Task, args: Any, kwargs: Any) -> TaskResult:
        self.validate_task(task)
        from django_qstash.client import resolve_tenant

        url = self.endpoint_url()
        # Arguments JSON cannot carry fail here, before anything is written.
        args, kwargs = normalize_json(args), normalize_json(kwargs)
        with transaction.atomic():
            tenant = resolve_tenant(self.task_options.tenant)
            record = TaskResultRecord(
                id=get_random_string(32), tenant=tenant, backend=self.alias,
                task_path=task.module_path, queue_name=task.queue_name,
                priority=task.priority, run_after=task.run_after,
                args=args, kwargs=kwargs,
                enqueued_at=clock.now())
            record.save(force_insert=True)
            store.carried_by(record, sending.send(record, tenant, self.task_options, url))
            record.save(update_fields=["message_id", "message_ids"])
        result = store.to_task_result(record, task)
        # Only a committed task was enqueued: a rollback takes back the row, the message and
        # this signal alike.
        transaction.on_commit(lambda: task_enqueued.send(type(self), task_result=result))
        return result

    def get_result(self, result_id: str) -> TaskResult:
        return store.read(result_id)

    def check(self, **kwargs: Any) -> Iterable[checks.CheckMessage]:
        from django_qstash.tasks_backend.checks import check_backend

        yield from check_backend(self)
