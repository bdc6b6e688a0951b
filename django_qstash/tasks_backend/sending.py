"""The messages that carry a task: a run (through its FIFO queue) or, when deferred, a release."""

from __future__ import annotations

import json
import math

from django_qstash.client import OutgoingMessage, get_backend, header_pairs
from django_qstash.core import clock
from django_qstash.models import Queue, TaskResultRecord, Tenant
from django_qstash.tasks_backend.options import TaskOptions

# A queued message cannot wait for a time of its own (enqueue refuses delays, as QStash does),
# and one that waited at the head of its FIFO queue would hold back every task behind it. So a
# deferred task first travels as a plain delayed "release" message; when that arrives, the
# endpoint puts the run message into the queue.
RUN = "run"
RELEASE = "release"


def body(record: TaskResultRecord, step: str) -> bytes:
    payload = {"id": record.id, "step": step, "task": record.task_path,
               "args": record.args, "kwargs": record.kwargs}
    return json.dumps(payload, separators=(",", ":")).encode()


def send(record: TaskResultRecord, tenant: Tenant, options: TaskOptions, url: str) -> str:
    """Publish the task's first message (inside the caller's transaction); its id."""
    deferred = record.run_after is not None and record.run_after > clock.now()
    if deferred and not options.flow_control_key:
        return _publish(record, tenant, options, url, RELEASE, queue=None,
                        not_before=record.run_after)
    return send_run(record, tenant, options, url)


def send_run(record: TaskResultRecord, tenant: Tenant, options: TaskOptions, url: str) -> str:
    if options.flow_control_key:
        # Flow control replaces the FIFO queue (queued messages ignore keys): no order, but
        # parallelism and rate shared by every task of this backend, and delays of their own.
        return _publish(record, tenant, options, url, RUN, queue=None,
                        not_before=record.run_after)
    queue = options.server_queue(record.queue_name)
    _configure_queue(tenant, queue, options.parallelism(record.queue_name))
    return _publish(record, tenant, options, url, RUN, queue=queue, not_before=None)


def _publish(record, tenant, options, url, step, *, queue, not_before) -> str:
    headers = [("Content-Type", "application/json")]
    if options.flow_control_key:
        headers.append(("Upstash-Flow-Control-Key", options.flow_control_key))
        if options.flow_control_value:
            headers.append(("Upstash-Flow-Control-Value", options.flow_control_value))
    pairs = header_pairs(
        headers, retries=options.retries, retry_delay=options.retry_delay,
        timeout=options.timeout, label=options.label,
        # Whole seconds on the wire: round up, so a task never runs before its run_after.
        not_before=math.ceil(not_before.timestamp()) if not_before else None)
    message = OutgoingMessage(url, body(record, step), pairs, queue=queue, tenant=tenant)
    message_id = get_backend(local=True).send(message)
    assert isinstance(message_id, str)  # a URL, never a URL group: one message
    return message_id


def _configure_queue(tenant: Tenant, name: str, parallelism: int) -> None:
    queue, created = Queue.objects.get_or_create(tenant=tenant, name=name,
                                                 defaults={"parallelism": parallelism})
    if not created and queue.parallelism != parallelism:
        Queue.objects.filter(pk=queue.pk).update(parallelism=parallelism)
