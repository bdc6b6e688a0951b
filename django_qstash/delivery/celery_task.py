"""The Celery task that carries a batch of claimed message ids to this process's worker."""

from celery import shared_task

from django_qstash.delivery.worker import process_batch_safely


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
