"""JSON shapes exactly as the official SDKs parse them: camelCase keys, millisecond timestamps."""

from __future__ import annotations

import base64
import hashlib

from django_qstash.core.clock import to_ms
from django_qstash.models import DlqEntry, Event, Message


def body_fields(body: bytes | None, redacted: bool = False) -> dict:
    """``body`` when it is UTF-8 text, else ``bodyBase64``; nothing when there is no body."""
    if not body:
        return {}
    body = bytes(body)
    if redacted:
        return {"body": redact_value(body)}
    try:
        return {"body": body.decode("utf-8")}
    except UnicodeDecodeError:
        return {"bodyBase64": base64.b64encode(body).decode()}


def b64(data: bytes | None) -> str:
    return base64.b64encode(bytes(data or b"")).decode()


def redact_value(value: bytes | str) -> str:
    raw = value.encode() if isinstance(value, str) else value
    return f"REDACTED:{hashlib.sha256(raw).hexdigest()}"


def redacted_headers(headers: dict[str, list[str]], fields: list[str]) -> dict[str, list[str]]:
    lowered = [f.lower() for f in fields]
    if "header" in lowered or "headers" in lowered:
        names = {name.lower() for name in headers}
    else:
        names = {f[f.index("[") + 1:-1].lower() for f in lowered if "[" in f}
    return {k: [redact_value(v) for v in vs] if k.lower() in names else vs
            for k, vs in headers.items()}


# Credentials: a read-only token may watch the traffic, not reuse the secrets the tenant
# forwards to its destinations (or the sessions they answer with). No digest either: a
# password's hash can be guessed.
CREDENTIAL_HEADERS = frozenset({"authorization", "proxy-authorization", "cookie", "set-cookie"})
HIDDEN_CREDENTIAL = "REDACTED"


def shown_headers(headers: dict[str, list[str]] | None, redact: list[str] | None = None,
                  hide_credentials: bool = False) -> dict[str, list[str]]:
    """Headers as the API shows them: the message's own redactions, then forwarded credentials
    hidden from read-only tokens."""
    headers = headers or {}
    if redact:
        headers = redacted_headers(headers, redact)
    if hide_credentials:
        headers = {k: [HIDDEN_CREDENTIAL for _ in vs] if k.lower() in CREDENTIAL_HEADERS else vs
                   for k, vs in headers.items()}
    return headers


def is_body_redacted(fields: list[str]) -> bool:
    return any(f.lower() == "body" for f in fields)


def _flow_control(message: Message) -> dict:
    if not message.flow_control_key:
        return {}
    data = {"flowControlKey": message.flow_control_key,
            "period": message.flow_control_period or 1}
    if message.flow_control_parallelism:
        data["parallelism"] = message.flow_control_parallelism
    if message.flow_control_rate:
        data["rate"] = message.flow_control_rate
    return data


def _optional(**values) -> dict:
    return {k: v for k, v in values.items() if v not in ("", None, [], {})}


def message_json(message: Message, hide_credentials: bool = False) -> dict:
    redact = message.redact_fields or []
    data = {
        "messageId": message.id,
        "url": message.url,
        "method": message.method,
        "header": shown_headers(message.headers, redact, hide_credentials),
        "maxRetries": message.max_retries,
        "notBefore": to_ms(message.not_before),
        "createdAt": to_ms(message.created_at),
        **body_fields(message.body, is_body_redacted(redact)),
        **_optional(
            topicName=message.topic_name, endpointName=message.endpoint_name,
            callback=message.callback, failureCallback=message.failure_callback,
            callbackHeader=shown_headers(message.callback_headers, None, hide_credentials),
            failureCallbackHeader=shown_headers(message.failure_callback_headers, None,
                                                hide_credentials),
            queueName=message.queue_name, scheduleId=message.schedule_id,
            callerIP=message.caller_ip, callerIp=message.caller_ip,
            retryDelayExpression=message.retry_delay_expression,
        ),
        **_flow_control(message),
    }
    if message.labels:
        data["label"] = message.labels[0]
        data["labels"] = message.labels
    return data


FINAL_STATES = {Message.Status.DELIVERED: Event.State.DELIVERED,
                Message.Status.FAILED: Event.State.FAILED,
                Message.Status.CANCELED: Event.State.CANCELED}


def message_state(message: Message) -> str:
    """Where a message stands, in the states of the log (``GET /v2/events``)."""
    if message.status in FINAL_STATES:
        return FINAL_STATES[message.status]
    if message.status == Message.Status.ACTIVE:
        return Event.State.CANCEL_REQUESTED if message.cancel_requested else Event.State.ACTIVE
    return Event.State.RETRY if message.retried else Event.State.CREATED


def message_detail_json(message: Message, hide_credentials: bool = False) -> dict:
    """``GET /v2/messages/{id}``: the SDKs' fields, then where the message stands: ``state``,
    ``final`` (nothing more will happen to it) and, once final, ``finishedAt``."""
    data = message_json(message, hide_credentials)
    data["state"] = message_state(message)
    data["final"] = message.is_finished
    if message.is_finished and message.finished_at is not None:
        data["finishedAt"] = to_ms(message.finished_at)
    return data


def dlq_json(entry: DlqEntry, hide_credentials: bool = False) -> dict:
    data = message_json(entry.message, hide_credentials)
    data["dlqId"] = entry.dlq_id
    data["responseStatus"] = entry.response_status
    data["responseHeader"] = shown_headers(entry.response_headers, None, hide_credentials)
    body = bytes(entry.response_body or b"")
    try:
        data["responseBody"] = body.decode("utf-8")
    except UnicodeDecodeError:
        data["responseBodyBase64"] = b64(body)
    if entry.error:
        data["error"] = entry.error
    return data


def event_json(event: Event, message: Message | None, hide_credentials: bool = False) -> dict:
    data = {
        "time": to_ms(event.time),
        "messageId": event.message_id,
        "state": event.state,
        "url": event.url,
        **_optional(
            error=event.error, nextDeliveryTime=to_ms(event.next_delivery_time),
            topicName=event.topic_name, endpointName=event.endpoint_name,
            queueName=event.queue_name, scheduleId=event.schedule_id,
            flowControlKey=event.flow_control_key,
        ),
    }
    if event.labels:
        data["label"] = event.labels[0]
        data["labels"] = event.labels
    if event.response_status is not None:
        data["responseStatus"] = event.response_status
        data["responseHeaders"] = data["responseHeader"] = shown_headers(
            event.response_headers, None, hide_credentials)
        data["responseBody"] = b64(event.response_body)
    if message is not None:
        redact = message.redact_fields or []
        data["header"] = shown_headers(message.headers, redact, hide_credentials)
        data["body"] = (redact_value(bytes(message.body)) if is_body_redacted(redact)
                        else b64(message.body))
        data["method"] = message.method
        data["maxRetries"] = message.max_retries
        data.update(_optional(
            callback=message.callback, failureCallback=message.failure_callback,
            callbackHeaders=shown_headers(message.callback_headers, None, hide_credentials),
            failureCallbackHeaders=shown_headers(message.failure_callback_headers, None,
                                                 hide_credentials),
            retryDelayExpression=message.retry_delay_expression,
            retryDelayExpr=message.retry_delay_expression,
            timeout=(message.timeout_seconds or 0) * 1000,
        ))
    return data
