"""Queues: upsert (parallelism, paused), get, list with lag, delete, pause and resume."""

from __future__ import annotations

from django.db import transaction
from django.db.models import Count
from rest_framework.response import Response

from django_qstash.api.base import QStashView, json_body
from django_qstash.core.clock import to_ms
from django_qstash.core.request_headers import validate_name
from django_qstash.engine.cancellation import cancel
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import Message, Queue

MAX_PARALLELISM = 1000


def queue_json(queue: Queue, lag: int) -> dict:
    return {"name": queue.name, "parallelism": queue.parallelism, "paused": queue.paused,
            "lag": lag, "createdAt": to_ms(queue.created_at), "updatedAt": to_ms(queue.updated_at)}


def lags(tenant, names: list[str]) -> dict[str, int]:
    rows = (Message.objects.undelivered().filter(tenant=tenant, kind=Message.Kind.MESSAGE,
                                                 queue_name__in=names)
            .order_by().values("queue_name").annotate(n=Count("id")))
    return {row["queue_name"]: row["n"] for row in rows}


def get_queue(tenant, name: str) -> Queue:
    queue = Queue.objects.filter(tenant=tenant, name=name).first()
    if queue is None:
        raise NotFound(f"queue {name!r} not found")
    return queue


class QueueListView(QStashView):
    def get(self, request):
        queues = list(Queue.objects.filter(tenant=self.tenant).order_by("name"))
        counts = lags(self.tenant, [q.name for q in queues])
        return Response([queue_json(q, counts.get(q.name, 0)) for q in queues])

    def post(self, request):
        body = json_body(request, default=None)
        if not isinstance(body, dict):
            raise BadRequest('body must be {"queueName": ..., "parallelism": ..., "paused": ...}')
        name = validate_name(str(body.get("queueName") or ""), "queueName")
        parallelism = body.get("parallelism", 1)
        if parallelism is None:
            parallelism = 1
        if not isinstance(parallelism, int) or isinstance(parallelism, bool) or \
                not 1 <= parallelism <= MAX_PARALLELISM:
            raise BadRequest(f"parallelism must be an integer from 1 to {MAX_PARALLELISM}")
        paused = body.get("paused", False)
        if not isinstance(paused, bool):
            raise BadRequest("paused must be true or false")
        Queue.objects.update_or_create(tenant=self.tenant, name=name,
                                       defaults={"parallelism": parallelism, "paused": paused})
        return Response(status=200)


class QueueDetailView(QStashView):
    def get(self, request, name: str):
        queue = get_queue(self.tenant, name)
        return Response(queue_json(queue, lags(self.tenant, [name]).get(name, 0)))

    def delete(self, request, name: str):
        with transaction.atomic():
            # Deleting an unknown queue succeeds, like deleting an unknown URL group.
            Queue.objects.filter(tenant=self.tenant, name=name).delete()
            # Messages left in a deleted queue would wait forever: cancel them.
            cancel(Message.objects.filter(tenant=self.tenant, queue_name=name,
                                          kind=Message.Kind.MESSAGE))
        return Response(status=200)


class QueuePauseView(QStashView):
    paused = True

    def post(self, request, name: str):
        validate_name(name, "queue name")
        queue = get_queue(self.tenant, name)
        if queue.paused != self.paused:
            queue.paused = self.paused
            queue.save(update_fields=["paused", "updated_at"])
        return Response(status=200)


class QueueResumeView(QueuePauseView):
    paused = False
