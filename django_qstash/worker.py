"""Deliver claimed messages: a batch at a time, requests in parallel, outcomes as they land."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime

from django.db import close_old_connections

from . import clock
from .conf import qstash_settings
from .claiming import WorkItem, renew_leases
from .delivery import DeliveryOutcome, DeliveryRequest, deliver, http_client
from .destinations import verify_request_destination
from .flow_control import take_send_slot
from .lifecycle import cancel_claimed, record_outcomes
from .models import Message, SigningKeyPair
from .signing import sign

logger = logging.getLogger("django_qstash.worker")
# Outcomes finished within this window are written together: fewer, larger transactions.
FLUSH_SECONDS = 0.02


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


def send_one(message: Message, key: str) -> tuple[DeliveryOutcome | None, datetime]:
    """One HTTP attempt; only a message with a flow-control rate touches the database, for
    its rate slot. No outcome (None) when that slot says not to send: nothing to record."""
    # Built first: a new thread's client takes tens of ms, which must not fall between the
    # rate slot and the request.
    client = http_client(verify_destination=verify_request_destination)
    if message.flow_control_rate and not take_send_slot(message):
        return None, clock.now()
    started_at = clock.now()
    outcome = deliver(
        delivery_request(message),
        client=client,
        sign=lambda url, body: sign(key=key, url=url, body=body),
        max_body=qstash_settings.MAX_RESPONSE_BODY_BYTES,
    )
    return outcome, started_at


_pool_lock = threading.Lock()
_pool: ThreadPoolExecutor | None = None


def http_pool() -> ThreadPoolExecutor:
    """Threads that only do HTTP; created lazily so each forked worker process gets its own."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=qstash_settings.DELIVERY_CONCURRENCY,
                                       thread_name_prefix="qstash-http")
        return _pool


def load_owned(items: list[WorkItem]) -> list[Message]:
    """The messages this batch still owns: ACTIVE with the claim token it was handed."""
    tokens = dict(items)
    messages = Message.objects.select_related("tenant").filter(
        pk__in=list(tokens), status=Message.Status.ACTIVE)
    return [m for m in messages if m.claim_token == tokens[m.id]]


def signing_keys(messages: list[Message]) -> dict[int, str]:
    tenants = {m.tenant_id: m.tenant for m in messages}
    return {tenant_id: SigningKeyPair.for_tenant(tenant).current
            for tenant_id, tenant in tenants.items()}


def process_batch(items: list[WorkItem]) -> None:
    messages = load_owned(items)
    for message in [m for m in messages if m.cancel_requested]:
        cancel_claimed(message.id, message.claim_token)
    messages = [m for m in messages if not m.cancel_requested]
    if not messages:
        return
    renew_leases(messages, clock.now())
    keys = signing_keys(messages)
    pool = http_pool()
    futures: dict[Future, Message] = {
        pool.submit(send_one, message, keys[message.tenant_id]): message for message in messages}
    pending = set(futures)
    while pending:
        done, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
        if not done:
            continue
        results = [(futures[future], *future.result()) for future in done]
        record_outcomes([result for result in results if result[1] is not None])


def process_batch_safely(items: list[WorkItem]) -> None:
    """Entry point of transports: an unexpected error must not kill the worker."""
    try:
        process_batch(items)
    except Exception:
        logger.exception("processing a batch of %d failed; leases will hand it out again",
                         len(items))
    finally:
        close_old_connections()
