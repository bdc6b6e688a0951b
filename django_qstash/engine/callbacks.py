"""Callback and failure-callback messages: new signed messages carrying the attempt's result."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from django_qstash.core import clock, ids
from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.core.request_headers import CallbackOptions, parse_publish_headers
from django_qstash.engine.workflow.delivered import materialized
from django_qstash.models import Message

JSON_HEADERS = {"Content-Type": ["application/json"]}


def callback_body(message: Message, outcome: DeliveryOutcome, retried: int,
                  dlq_id: str | None = None) -> bytes:
    payload = {
        "status": outcome.status or 0,
        "header": outcome.headers,
        "body": base64.b64encode(outcome.body).decode(),
        "retried": retried,
        "maxRetries": message.max_retries,
        "sourceMessageId": message.id,
        "url": message.url,
        "method": message.method,
        "sourceHeader": message.headers,
        # What was sent: a workflow step's body is composed, not stored.
        "sourceBody": base64.b64encode(materialized(message)).decode(),
        # QStash sends these two timestamps as strings.
        "notBefore": str(clock.to_ms(message.not_before)),
        "createdAt": str(clock.to_ms(message.created_at)),
        "scheduleId": message.schedule_id,
        "callerIP": message.caller_ip,
    }
    if message.topic_name:
        payload["topicName"] = message.topic_name
        payload["endpointName"] = message.endpoint_name
    if outcome.error and outcome.status is None:
        payload["error"] = outcome.error
    if dlq_id:
        payload["dlqId"] = dlq_id
    return json.dumps(payload, separators=(",", ":")).encode()


def label_index(labels: list[str]) -> str:
    return f",{','.join(labels)}," if labels else ""


def callback_options(cb: CallbackOptions) -> dict:
    """How a message stores its (failure) callback's settings."""
    options = {"method": cb.method, "timeout_seconds": cb.timeout_seconds,
               "retries": cb.retries, "retry_delay": cb.retry_delay}
    if cb.nested:
        options["nested"] = cb.nested
    return options


def callback_message(message: Message, kind: str, body: bytes, now: datetime) -> Message:
    """Build (unsaved) the callback of ``kind`` ("callback" or "failure_callback")."""
    options = getattr(message, f"{kind}_options") or {}
    headers = {**JSON_HEADERS, **(getattr(message, f"{kind}_headers") or {})}
    retries = options.get("retries")
    callback = Message(
        id=ids.message_id(), tenant_id=message.tenant_id,
        kind=Message.Kind.CALLBACK if kind == "callback" else Message.Kind.FAILURE_CALLBACK,
        source_message_id=message.id, url=getattr(message, kind),
        method=options.get("method") or "POST", headers=headers, body=body,
        max_retries=message.max_retries if retries is None else retries,
        retry_delay_expression=options.get("retry_delay") or "",
        timeout_seconds=options.get("timeout_seconds"), labels=message.labels, label_index=message.label_index,
        # The queue name keeps a FIFO queue blocked until this callback is delivered.
        queue_name=message.queue_name,
        schedule_id=message.schedule_id, topic_name=message.topic_name,
        endpoint_name=message.endpoint_name, caller_ip=message.caller_ip,
        not_before=now, created_at=now,
    )
    if nested := options.get("nested"):
        configure_nested(callback, nested, now)
    return callback


def configure_nested(callback: Message, nested: dict[str, str], now: datetime) -> None:
    """``Upstash-Callback-X`` (``Upstash-Failure-Callback-X``) is the callback message's
    ``Upstash-X``: its flow control, labels, own failure callback and workflow headers."""
    options = parse_publish_headers(list(nested.items()))
    # A queued message's callback is claimed with its queue, never through a key.
    if options.flow_control_key and not callback.queue_name:
        callback.flow_control_key = options.flow_control_key
        callback.flow_control_parallelism = options.flow_control_parallelism
        callback.flow_control_rate = options.flow_control_rate
        callback.flow_control_period = options.flow_control_period
    if options.labels:
        callback.labels, callback.label_index = options.labels, label_index(options.labels)
    for kind in ("callback", "failure_callback"):
        if cb := getattr(options, kind):
            setattr(callback, kind, cb.url)
            setattr(callback, f"{kind}_headers", cb.headers)
            setattr(callback, f"{kind}_options", callback_options(cb))
    if options.workflow:
        # Imported here: only workflow callbacks need it, and it imports publishing.
        from django_qstash.engine.workflow.steps import attach_callback

        attach_callback(callback, options.workflow, now)
