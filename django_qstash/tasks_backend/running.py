"""One attempt of a task on the execution endpoint: run it, or release a deferred one."""

from __future__ import annotations

from django.db import transaction
from django.http import JsonResponse

from django_qstash.models import TaskResultRecord
from django_qstash.tasks_backend import sending, store
from django_qstash.tasks_backend.answers import permanent_failure, worker_id
from django_qstash.tasks_backend.compat import (
    TaskContext,
    TaskError,
    get_exception_traceback,
    get_module_path,
    normalize_json,
    task_finished,
    task_started,
)

Status = TaskResultRecord.Status


def run(backend, result_id: str, message_id: str, retried: int, *, final: bool) -> JsonResponse:
    """Run the task once. A failure answers 500, so the delivery engine retries it with its
    backoff and, after the last retry, moves the message to the DLQ."""
    record = store.start_attempt(result_id, retried=retried, message_id=message_id,
                                 worker_id=worker_id())
    if record is None:
        return permanent_failure(f"task result {result_id!r} does not exist")
    if record.status == Status.SUCCESSFUL:
        # A repeated delivery of a task that already ran (at-least-once): not run twice.
        return JsonResponse({"id": record.id, "status": record.status})
    try:
        task = store.import_task(record.task_path)
    except store.UnknownTask as error:
        store.finish_attempt(record, error=_error(error), final=True)
        return permanent_failure(str(error))
    result = store.to_task_result(record, task)
    sender = type(backend)
    task_started.send(sender, task_result=result)
    try:
        arguments = [TaskContext(task_result=result)] if task.takes_context else []
        value = normalize_json(task.call(*arguments, *record.args, **record.kwargs))
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 — SystemExit in a task must not end the server
        error = _error(exc)
        store.finish_attempt(record, error=error, final=final)
        task_finished.send(sender, task_result=store.to_task_result(record, task))
        return JsonResponse({"id": record.id, "status": record.status,
                             "error": f"task raised {error.exception_class_path}"}, status=500)
    store.finish_attempt(record, return_value=value)
    task_finished.send(sender, task_result=store.to_task_result(record, task))
    return JsonResponse({"id": record.id, "status": record.status})


def release(backend, result_id: str, message_id: str) -> JsonResponse:
    """A deferred task is due: put its run message into its FIFO queue, once."""
    with transaction.atomic():
        record = (TaskResultRecord.objects.select_for_update().select_related("tenant")
                  .filter(pk=result_id).first())
        if record is None:
            return permanent_failure(f"task result {result_id!r} does not exist")
        # Only the release the record points to moves it on: a repeated delivery of the same
        # release finds the record pointing at the run message and does nothing.
        if record.message_id == message_id and record.status == Status.READY:
            store.carried_by(record, sending.send_run(record, record.tenant,
                                                      backend.task_options,
                                                      backend.endpoint_url()))
            record.save(update_fields=["message_id", "message_ids"])
    return JsonResponse({"id": record.id, "released": record.message_id})


def _error(exc: BaseException) -> TaskError:
    return TaskError(exception_class_path=get_module_path(type(exc)),
                     traceback=get_exception_traceback(exc))
