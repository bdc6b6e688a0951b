"""Run one claimed message: load it, deliver one attempt, record the outcome."""

from __future__ import annotations

import logging

from django.db import close_old_connections

from . import clock
from .conf import qstash_settings
from .delivery import DeliveryRequest, deliver, http_client
from .destinations import verify_request_destination
from .lifecycle import cancel_claimed, record_outcome
from .models import Message, SigningKeyPair
from .signing import sign

logger = logging.getLogger("django_qstash.worker")


def delivery_request(message: Message) -> DeliveryRequest:
    extra = {}
    if message.topic_name:
        extra["Upstash-Topic-Name"] = message.topic_name
    if message.schedule_id:
        extra["Upstash-Schedule-Id"] = message.schedule_id
    if message.caller_ip:
        extra["Upstash-Caller-Ip"] = message.caller_ip
    return DeliveryRequest(
        url=message.url, method=message.method, headers=message.headers,
        body=bytes(message.body),
        timeout_seconds=message.timeout_seconds or qstash_settings.DEFAULT_TIMEOUT_SECONDS,
        message_id=message.id, retried=message.retried, extra_headers=extra)


def process(message_id: str, claim_token: int) -> str:
    """Deliver ``message_id`` if this claim still owns it; returns what happened, for logs."""
    message = (Message.objects.select_related("tenant")
               .filter(pk=message_id, status=Message.Status.ACTIVE, claim_token=claim_token)
               .first())
    if message is None:
        return "stale"
    if message.cancel_requested:
        cancel_claimed(message_id, claim_token)
        return "canceled"
    key = SigningKeyPair.for_tenant(message.tenant).current
    started_at = clock.now()
    outcome = deliver(
        delivery_request(message),
        client=http_client(verify_destination=verify_request_destination),
        sign=lambda url, body: sign(key=key, url=url, body=body),
        max_body=qstash_settings.MAX_RESPONSE_BODY_BYTES,
    )
    recorded = record_outcome(message_id, claim_token, outcome, started_at)
    if recorded is None:
        return "lease-lost"
    logger.info("message %s attempt %s -> %s", message_id, message.retried,
                outcome.status or outcome.error)
    return recorded.status


def process_safely(message_id: str, claim_token: int) -> None:
    """Thread-pool entry: an unexpected error must not kill the worker; the lease retries it."""
    try:
        process(message_id, claim_token)
    except Exception:
        logger.exception("processing %s failed; its lease will hand it out again", message_id)
    finally:
        close_old_connections()
