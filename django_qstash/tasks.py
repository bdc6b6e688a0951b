"""Celery task shells: the work lives in worker.process."""

from celery import shared_task

from .worker import process_safely


@shared_task(name="django_qstash.deliver_message", ignore_result=True, acks_late=True)
def deliver_message(message_id: str, claim_token: int) -> None:
    process_safely(message_id, claim_token)
