"""Task results in the database: written on enqueue, updated per attempt, read as TaskResult."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django.utils.module_loading import import_string

from django_qstash.core import clock
from django_qstash.models import TaskResultRecord
from django_qstash.tasks_backend.compat import (
    Task,
    TaskError,
    TaskResult,
    TaskResultDoesNotExist,
    TaskResultStatus,
)

Status = TaskResultRecord.Status


class UnknownTask(LookupError):
    """A stored task path that does not name a task (renamed, removed, or never one)."""


def import_task(path: str) -> Task:
    try:
        found = import_string(path)
    except ImportError as error:
        raise UnknownTask(f"{path!r} cannot be imported: {error}") from None
    if not isinstance(found, Task):
        # Only functions decorated with @task run: a signed body names what to run, and a
        # plain function of any importable module is not something it may choose.
        raise UnknownTask(f"{path!r} is not a task")
    return found


def read(result_id: str) -> TaskResult:
    record = TaskResultRecord.objects.filter(pk=result_id).first()
    if record is None:
        raise TaskResultDoesNotExist(result_id)
    return to_task_result(record)


def to_task_result(record: TaskResultRecord, task: Task | None = None) -> TaskResult:
    """The record as Django's TaskResult; ``task`` saves importing it when known."""
    task = task or import_task(record.task_path)
    changes: dict[str, Any] = {"queue_name": record.queue_name, "backend": record.backend}
    if record.run_after is not None:
        changes["run_after"] = record.run_after
    result = TaskResult(
        task=task.using(**changes), id=record.id, status=TaskResultStatus(record.status),
        enqueued_at=record.enqueued_at, started_at=record.started_at,
        finished_at=record.finished_at, last_attempted_at=record.last_attempted_at,
        args=record.args, kwargs=record.kwargs, backend=record.backend,
        errors=[TaskError(exception_class_path=e["exception_class_path"],
                          traceback=e["traceback"]) for e in record.errors],
        worker_ids=list(record.worker_ids))
    object.__setattr__(result, "_return_value", record.return_value)  # frozen dataclass
    return result


def start_attempt(result_id: str, *, retried: int, message_id: str,
                  worker_id: str) -> TaskResultRecord | None:
    """Mark the result RUNNING for this attempt; None when it does not exist. A result that
    already succeeded is returned unchanged (a delivery may repeat: at-least-once)."""
    with transaction.atomic():
        record = TaskResultRecord.objects.select_for_update().filter(pk=result_id).first()
        if record is None or record.status == Status.SUCCESSFUL:
            return record
        now = clock.now()
        # One worker id per delivery attempt, so that attempts (and context.attempt) count
        # Upstash-Retried + 1 even when an attempt never reached this site.
        worker_ids = list(record.worker_ids[:retried])
        worker_ids += [""] * (retried - len(worker_ids))
        record.worker_ids = [*worker_ids, worker_id]
        record.status = Status.RUNNING
        record.started_at = record.started_at or now
        record.last_attempted_at = now
        carried_by(record, message_id)
        record.save(update_fields=["worker_ids", "status", "started_at", "last_attempted_at",
                                   "message_id", "message_ids"])
    return record


def finish_attempt(record: TaskResultRecord, *, return_value: Any = None,
                   error: TaskError | None = None, final: bool = True) -> None:
    """Record the outcome: SUCCESSFUL, FAILED after the last attempt, else READY again."""
    now = clock.now()
    if error is None:
        record.status, record.finished_at = Status.SUCCESSFUL, now
        record.return_value = return_value
    else:
        record.errors = [*record.errors, {"exception_class_path": error.exception_class_path,
                                          "traceback": error.traceback}]
        record.status = Status.FAILED if final else Status.READY
        record.finished_at = now if final else None
    record.save(update_fields=["status", "return_value", "finished_at", "errors"])


def carried_by(record: TaskResultRecord, message_id: str) -> None:
    """Note the message that carries the task from now on (unsaved)."""
    record.message_id = message_id
    if message_id and message_id not in record.message_ids:
        record.message_ids = [*record.message_ids, message_id]
