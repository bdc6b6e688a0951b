"""The last looks before a claimed message is sent: a cancel or a pause since its claim stops it."""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor

from django.db.models import Q

from django_qstash.core import clock
from django_qstash.db.connections import drop_stale_connections
from django_qstash.db.owned_rows import cancel_flags
from django_qstash.engine import transitions
from django_qstash.engine.lifecycle import cancel_claimed
from django_qstash.models import FlowControlKey, Message, Queue

logger = logging.getLogger("django_qstash.delivery.worker")


def still_to_send(messages: list[Message]) -> set[str]:
    """The ids of ``messages`` to send now. A message whose cancel was requested is finished
    as CANCELED here; one whose queue or flow-control key was paused goes back to wait in it
    (no query for messages with neither); one whose claim was lost (reclaimed, finished) is
    left to its new owner.

    A plain read is enough: the cancel path only flags a message a worker holds, and the flag
    committed before this read stops the send; one committed after it finds the message in
    flight, and the attempt's outcome is recorded as for any message cancelled in flight."""
    try:
        flags = cancel_flags(messages)
        for message in messages:
            if flags.get(message.id):
                cancel_claimed(message.id, message.claim_token)
        kept = [message for message in messages if flags.get(message.id) is False]
        return {message.id for message in release_paused(kept)}
    except Exception:
        # Not sending is the safe side: the lease hands the messages out again.
        logger.exception("could not check %d messages before sending; their leases will "
                         "bring them back", len(messages))
        return set()
    finally:
        drop_stale_connections()  # a long-lived thread: drop a connection that broke


def _waits_in_queue(message: Message) -> bool:
    # As claim_queued picks them: callbacks of queued messages never wait in the queue.
    return bool(message.queue_name) and message.kind == Message.Kind.MESSAGE


def _waits_for_key(message: Message) -> bool:
    return bool(message.flow_control_key) and not message.queue_name


def _paused(model, name_field: str, pairs: set[tuple[int, str]]) -> set[tuple[int, str]]:
    if not pairs:
        return set()
    match = Q()
    for tenant_id, name in pairs:
        match |= Q(tenant_id=tenant_id, **{name_field: name})
    return set(model.objects.filter(match, paused=True).values_list("tenant_id", name_field))


def release_paused(messages: list[Message]) -> list[Message]:
    """A batch picked up after its queue or flow-control key was paused: those messages go
    back to wait in it, unattempted, retries untouched; the rest are returned. A batch with
    neither (most of them) costs no query."""
    queues = _paused(Queue, "name", {(m.tenant_id, m.queue_name)
                                     for m in messages if _waits_in_queue(m)})
    keys = _paused(FlowControlKey, "key", {(m.tenant_id, m.flow_control_key)
                                           for m in messages if _waits_for_key(m)})
    if not queues and not keys:
        return messages
    held = [m for m in messages
            if (_waits_in_queue(m) and (m.tenant_id, m.queue_name) in queues)
            or (_waits_for_key(m) and (m.tenant_id, m.flow_control_key) in keys)]
    transitions.requeue(held, clock.now())
    return [m for m in messages if m not in held]


class SendGate:
    """Messages of one sender loop falling due together are checked in one read, on a
    thread of their own (the loop never touches the database); while a read is out, those
    falling due meanwhile wait for the next one."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.waiting: list[tuple[Message, asyncio.Future]] = []
        self.reading = False
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="qstash-gate")

    async def admit(self, message: Message) -> bool:
        future = self.loop.create_future()
        self.waiting.append((message, future))
        if not self.reading:
            self._read()
        return await future

    def _read(self) -> None:
        batch, self.waiting = self.waiting, []
        self.reading = True
        done = self.loop.run_in_executor(self.executor, still_to_send, [m for m, _ in batch])
        done.add_done_callback(lambda result: self._settle(batch, result))

    def _settle(self, batch: list[tuple[Message, asyncio.Future]], result) -> None:
        sendable = result.result() if not result.exception() else set()
        for message, future in batch:
            if not future.done():
                future.set_result(message.id in sendable)
        self.reading = False
        if self.waiting:
            self._read()

