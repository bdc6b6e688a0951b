"""Rows in a given state, written directly: admin and command tests need history, not traffic."""

from __future__ import annotations

from datetime import timedelta

from django_qstash.core import clock, ids
from django_qstash.models import DeliveryAttempt, DlqEntry, Event, Message

FINISHED = ("delivered", "failed", "canceled")


def make_message(tenant, *, url: str = "https://example.com/hook", status: str = "delivered",
                 age: timedelta = timedelta(0), body: bytes = b'{"hello": "world"}',
                 **fields) -> Message:
    at = clock.now() - age
    message = Message.objects.create(
        id=ids.message_id(), tenant=tenant, url=url, not_before=at, created_at=at,
        status=status, finished_at=at if status in FINISHED else None,
        headers={"Content-Type": ["application/json"]}, body=body, **fields)
    Event.objects.create(tenant=tenant, message_id=message.id, state="CREATED", time=at, url=url,
                         queue_name=message.queue_name)
    if status != "pending":
        Event.objects.create(tenant=tenant, message_id=message.id, state=status.upper(),
                             time=at, url=url, queue_name=message.queue_name)
    return message


def make_dlq(tenant, *, status: int = 500, age: timedelta = timedelta(0), **fields) -> DlqEntry:
    message = make_message(tenant, status="failed", age=age, **fields)
    at = clock.now() - age
    DeliveryAttempt.objects.create(
        message=message, retried=0, started_at=at, duration_ms=12, response_status=status,
        response_headers={"X-Upstream": ["boom"]}, response_body=b"upstream exploded",
        error=f"destination answered {status}")
    return DlqEntry.objects.create(
        dlq_id=ids.dlq_id(), tenant=tenant, message=message, response_status=status,
        response_headers={"X-Upstream": ["boom"]}, response_body=b"upstream exploded",
        error=f"destination answered {status}", created_at=at)
