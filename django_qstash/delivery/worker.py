"""Deliver claimed messages: a batch at a time, requests in parallel, outcomes as they land."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.core.attempts import DeliveryOutcome, DeliveryRequest
from django_qstash.core.leases import WorkItem
from django_qstash.core.signing import sign
from django_qstash.db.connections import drop_stale_connections
from django_qstash.db.owned_rows import from_inserted, load_owned
from django_qstash.delivery import sender
from django_qstash.delivery.attempt import deliver
from django_qstash.delivery.fair_share import host_of, wait_allowance
from django_qstash.delivery.recorder import FLUSH_SECONDS, recorder
from django_qstash.delivery.runtime import current
from django_qstash.engine import send_gate, transitions
from django_qstash.engine.flow_control import take_send_slot
from django_qstash.engine.lifecycle import cancel_claimed, record_outcomes
from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.models import Message, SigningKeyPair, Tenant

logger = logging.getLogger("django_qstash.delivery.worker")
SEND_SETTLE_SECONDS = 0.25


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


async def attempt(message: Message, key: str,
                  session) -> tuple[DeliveryOutcome | None, datetime]:
    """One HTTP attempt on the sender loop. A message claimed ahead of its time is prepared
    and signed now, and sent the moment it is due unless it was cancelled meanwhile. No
    outcome (None) when it is not sent: nothing to record, or its lease hands it out again."""
    request = delivery_request(message)
    signature = sign(key=key, url=request.url, body=request.body)
    ahead = message.not_before is not None and message.not_before > clock.now()
    await until_due(message.not_before)
    # Due-now messages were checked when their batch was loaded, a moment ago.
    if ahead and not await sender.loop().gate.admit(message):
        return None, clock.now()
    share, tenant, host = sender.fair_share(), message.tenant_id, host_of(request.url)
    waits = share.would_wait(tenant, host)
    if not await share.acquire(tenant, host, wait_allowance(message, clock.now())):
        return None, clock.now()
    try:
        # A cancel or pause may land while a send waits for its share: one last look once
        # the share is taken (a message that never waited was looked at a moment ago).
        if waits and not await sender.loop().gate.admit(message):
            return None, clock.now()
        # A rate-limited key's slot (a database round trip, on a pool thread) is taken once
        # the share is ours, right before the request, so arrivals keep to the rate.
        if message.flow_control_rate and not await asyncio.get_running_loop().run_in_executor(
                http_pool(), rate_slot_or_finish, message):
            return None, clock.now()
        started_at = clock.now()
        outcome = await deliver(
            request, session=session, sign=lambda url, body: signature,
            max_body=qstash_settings.MAX_RESPONSE_BODY_BYTES,
        )
    finally:
        share.release(tenant, host)
    return outcome, started_at


async def until_due(not_before: datetime | None) -> None:
    # On the real clock one sleep to the due time: thousands of messages claimed ahead wait
    # here at once, and waking each every few milliseconds took the CPU their sends needed.
    # A clock that moves only when told to is asked again after each short sleep instead.
    while not_before is not None and (wait := (not_before - clock.now()).total_seconds()) > 0:
        await asyncio.sleep(clock.get_clock().sleep_step(wait))


def rate_slot_or_finish(message: Message) -> bool:
    """Takes the key's rate slot; False: not to be sent. One refused because a cancel was
    requested while it waited is finished as CANCELED here."""
    if take_send_slot(message):
        return True
    send_gate.still_to_send([message])
    return False


def start_send(message: Message, key: str) -> Future:
    return sender.submit(lambda session: attempt(message, key, session))


def http_pool() -> ThreadPoolExecutor:
    """Threads for rate-limited sends, which wait on their key's slot (the runtime's)."""
    return current().part("http_pool", _new_http_pool)


def _new_http_pool() -> ThreadPoolExecutor:
    return ThreadPoolExecutor(max_workers=qstash_settings.DELIVERY_CONCURRENCY,
                              thread_name_prefix="qstash-http")


def signing_keys(messages: list[Message]) -> dict[int, str]:
    """Each tenant's current key: loaded with the messages, created here for a new tenant."""
    keys = {m.tenant_id: m.signing_key for m in messages if m.signing_key}
    for tenant_id in {m.tenant_id for m in messages} - set(keys):
        keys[tenant_id] = SigningKeyPair.for_tenant(Tenant.objects.get(pk=tenant_id)).current
    return keys


def process_batch(items: list[WorkItem], *, detach: bool = False,
                  inserted: list | None = None) -> list[Future]:
    """Send a claimed batch and record its outcomes. With ``detach`` it returns once its
    sends are started (or, for a batch not yet due, prepared and signed), and the process's
    recorder writes the outcomes as they land: it returns the sends' futures then.
    ``inserted``: the rows of ``items`` as this process just inserted them, claimed (its own
    due-now messages), used instead of reading them back."""
    messages = from_inserted(inserted) if inserted else load_owned(items)
    for message in [m for m in messages if m.cancel_requested]:
        cancel_claimed(message.id, message.claim_token)
    messages = send_gate.release_paused([m for m in messages if not m.cancel_requested])
    if not messages:
        return []
    fill_bodies(messages)
    keys = signing_keys(messages)
    futures: dict[Future, Message] = {
        start_send(message, keys[message.tenant_id]): message for message in messages}
    # While the requests are on their way (their own thread): their outcomes are recorded
    # below, by this thread, after this.
    transitions.renew(messages, clock.now())
    pending = set(futures)
    # A batch claimed ahead of its time records nothing until its sends are out: writing
    # outcomes must not take the CPU from sends due in the same moment.
    last_due = max((m.not_before for m in messages if m.not_before), default=None)
    now = clock.now()
    ahead = last_due is not None and last_due > now
    record_from = last_due + timedelta(seconds=SEND_SETTLE_SECONDS) if ahead else now
    if detach:
        recorder().add(futures, record_from if ahead else None)
        return list(futures)
    results: list = []
    while pending:
        done, pending = wait(pending, timeout=FLUSH_SECONDS, return_when=FIRST_COMPLETED)
        results += [(futures[future], *future.result()) for future in done]
        if results and (not pending or clock.now() >= record_from):
            record_outcomes([result for result in results if result[1] is not None])
            results = []
    return []


def process_batch_safely(items: list[WorkItem], *, detach: bool = False,
                         inserted: list | None = None) -> list[Future]:
    """Entry point of transports: an unexpected error must not kill the worker. Returns the
    futures of the sends started detached (none when the batch failed)."""
    try:
        return process_batch(items, detach=detach, inserted=inserted)
    except Exception:
        logger.exception("processing a batch of %d failed; leases will hand it out again",
                         len(items))
        return []
    finally:
        drop_stale_connections()
