"""Celery task shells: the work lives in worker.process_batch."""

import logging

from celery import shared_task
from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from .heap import freeze_startup_objects
from .runtime import SHUTDOWN_TIMEOUT_SECONDS, current
from .worker import process_batch_safely

logger = logging.getLogger("django_qstash.worker")


# acks_late: on a broker with real acknowledgements (RabbitMQ, SQS), a task whose worker
# loses its broker connection before the sends start goes to another worker at once instead
# of waiting for the database leases to lapse; that run sends only the messages still held
# under the same claim token, as a lapsed lease would. On Redis with ack emulation off it
# changes nothing, and costs nothing.
@shared_task(name="django_qstash.deliver_batch", ignore_result=True, acks_late=True)
def deliver_batch(items: list[list]) -> None:
    """``items``: [[message id, claim token], ...] claimed by a dispatcher or the fast path."""
    # The batch frees its worker slot once its sends are started (a batch claimed ahead of
    # its time: once prepared), so the slot takes the next task while the requests are out;
    # the process's recorder writes the outcomes, several tasks' in one transaction.
    process_batch_safely([(message_id, token) for message_id, token in items], detach=True)


@worker_process_init.connect  # each prefork child, once forked
def start_runtime(**kwargs) -> None:
    """The child's sender loop, recorder and submitter, started before its first task."""
    freeze_startup_objects()
    current().start()


@worker_process_shutdown.connect  # a prefork child, before it exits
@worker_shutdown.connect  # the worker process itself (threads and solo pools)
def stop_runtime(**kwargs) -> None:
    """Write the outcomes of batches still waiting and hand the callback messages they
    produced to the broker, rather than leave them to their leases (a prefork child ends
    without running atexit); then close the session and join the threads."""
    runtime = current()
    if not runtime.stop(timeout=SHUTDOWN_TIMEOUT_SECONDS):
        logger.warning("outcomes still unrecorded at shutdown; their leases will resend them")
    runtime.join()


@worker_ready.connect  # the worker process, its pool started
def freeze_worker_heap(**kwargs) -> None:
    freeze_startup_objects()
