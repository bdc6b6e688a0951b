"""Celery's entry points: the delivery task (found here by autodiscovery) and the process hooks."""

import logging

from celery.signals import (
    worker_process_init,
    worker_process_shutdown,
    worker_ready,
    worker_shutdown,
)

from django_qstash.delivery.celery_task import deliver_batch  # noqa: F401  (registers the task)
from django_qstash.delivery.heap import freeze_startup_objects
from django_qstash.delivery.runtime import SHUTDOWN_TIMEOUT_SECONDS, current

logger = logging.getLogger("django_qstash.delivery.worker")


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
