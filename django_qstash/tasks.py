"""Celery task shells: the work lives in worker.process_batch."""

from celery import shared_task

from .worker import process_batch_safely


@shared_task(name="django_qstash.deliver_batch", ignore_result=True, acks_late=True)
def deliver_batch(items: list[list]) -> None:
    """``items``: [[message id, claim token], ...] claimed by a dispatcher or the fast path."""
    process_batch_safely([(message_id, token) for message_id, token in items])
