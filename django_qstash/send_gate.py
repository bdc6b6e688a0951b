"""The last look at a claimed-ahead message when it falls due: a cancel since its claim stops it."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from concurrent.futures import ThreadPoolExecutor

from django.db import close_old_connections

from .lifecycle import cancel_claimed
from .models import Message
from .owned_rows import cancel_flags

logger = logging.getLogger("django_qstash.worker")


def still_to_send(messages: list[Message]) -> set[str]:
    """The ids of ``messages`` to send now. A message whose cancel was requested is finished
    as CANCELED here; one whose claim was lost (reclaimed, finished) is left to its new owner.

    A plain read is enough: the cancel path only flags a message a worker holds, and the flag
    committed before this read stops the send; one committed after it finds the message in
    flight, and the attempt's outcome is recorded as for any message cancelled in flight."""
    try:
        flags = cancel_flags(messages)
        for message in messages:
            if flags.get(message.id):
                cancel_claimed(message.id, message.claim_token)
        return {message_id for message_id, cancelled in flags.items() if not cancelled}
    except Exception:
        # Not sending is the safe side: the lease hands the messages out again.
        logger.exception("could not check %d messages before sending; their leases will "
                         "bring them back", len(messages))
        return set()
    finally:
        close_old_connections()  # a long-lived thread: drop a connection that broke


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


_gates_lock = threading.Lock()
_gates: dict[int, tuple[asyncio.AbstractEventLoop, SendGate]] = {}


def gate() -> SendGate:
    """The running loop's gate: one per sender loop, created again in a forked child."""
    loop = asyncio.get_running_loop()
    key = os.getpid()
    with _gates_lock:
        current = _gates.get(key)
        if current is None or current[0] is not loop:
            current = _gates[key] = (loop, SendGate(loop))
        return current[1]
