"""How claimed work reaches a worker: threads in this process, or Celery tasks on a broker."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Protocol

from django_qstash.conf import qstash_settings
from django_qstash.core.leases import WorkItem

logger = logging.getLogger("django_qstash.delivery.transport")


def in_batches(items: list[WorkItem]):
    size = qstash_settings.DELIVERY_BATCH_SIZE
    for start in range(0, len(items), size):
        yield [tuple(item) for item in items[start:start + size]]


class Transport(Protocol):
    def submit(self, items: list[WorkItem]) -> None: ...


class InProcessTransport:
    """Worker threads inside this process: the dev server and most tests use it."""

    def __init__(self, workers: int) -> None:
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qstash-worker")
        self._in_flight = 0
        self._idle = threading.Condition()
        self.pid = os.getpid()

    def submit(self, items: list[WorkItem]) -> None:
        from django_qstash.delivery.worker import process_batch_safely

        batches = list(in_batches(items))
        with self._idle:
            self._in_flight += len(batches)
        for batch in batches:
            # As in a Celery worker, a thread is free once the batch's sends are started: a
            # batch of slow sends must not hold it while other tenants' batches wait.
            self.executor.submit(self._run, partial(process_batch_safely, detach=True), batch)

    def _run(self, func, *args) -> None:
        try:
            func(*args)
        finally:
            with self._idle:
                self._in_flight -= 1
                self._idle.notify_all()

    def wait_idle(self, timeout: float = 30) -> bool:
        """Block until every submitted item has finished (shutdown and tests use it)."""
        from django_qstash.delivery.recorder import recorder

        deadline = time.monotonic() + timeout
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                return False
        return recorder.drain(max(0.0, deadline - time.monotonic()))


class CeleryTransport:
    """One Celery task per batch of claimed messages; tasks carry ids only, never the message."""

    def submit(self, items: list[WorkItem]) -> None:
        from django_qstash.delivery.celery_task import deliver_batch

        for batch in in_batches(items):
            # argsrepr given: Celery would otherwise format the arguments for its logs.
            deliver_batch.apply_async((batch,), queue=qstash_settings.CELERY_QUEUE,
                                      argsrepr=f"[{len(batch)} messages]", kwargsrepr="{}")


_lock = threading.Lock()
_transports: dict[str, Transport] = {}


def get_transport() -> Transport:
    name = qstash_settings.TRANSPORT
    with _lock:
        if name not in _transports:
            if name == "inprocess":
                _transports[name] = InProcessTransport(qstash_settings.INPROCESS_WORKERS)
            elif name == "celery":
                _transports[name] = CeleryTransport()
            else:
                raise ValueError(f"Unknown QSTASH TRANSPORT {name!r}")
        return _transports[name]


# Long enough for a first connection to the broker; a broker that takes longer is down, and
# the messages' leases bring them back.
FLUSH_TIMEOUT_SECONDS = 10.0


class Submitter:
    """Hands due-now messages to a broker transport from a thread of its own: the publish
    that claimed them is answered without waiting for the broker, and messages published
    meanwhile travel together in one task. The thread is a daemon, so a process that exits
    (a command, a script, a worker child) flushes first: ``flush`` hands over what is waiting
    and waits for the hand-over in progress. Only a process killed outright leaves its
    messages to their leases."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        self.pending: list[WorkItem] = []
        self.sending = 0  # hand-overs the thread has taken and not yet finished
        self.pid = 0

    def add(self, items: list[WorkItem]) -> None:
        with self.cond:
            if self.pid != os.getpid():  # first use, or a forked child: a thread of its own
                self.pid, self.pending, self.sending = os.getpid(), [], 0
                threading.Thread(target=self._run, name="qstash-submitter", daemon=True).start()
            self.pending.extend(items)
            self.cond.notify_all()

    def _run(self) -> None:
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.pending)
                items, self.pending = self.pending, []
                self.sending += 1
            try:
                submit_or_leave_to_lease(items)
            finally:
                with self.cond:
                    self.sending -= 1
                    self.cond.notify_all()

    def flush(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Return once everything added so far is with the broker (or failed to get there and
        is left to its lease); False if a hand-over was still under way after ``timeout``."""
        with self.cond:
            if self.pid != os.getpid():  # nothing was added in this process
                return True
            items, self.pending = self.pending, []
        if items:  # sent from here: the thread may be busy, or about to die with the process
            submit_or_leave_to_lease(items)
        with self.cond:
            done = self.cond.wait_for(lambda: not self.sending, timeout)
        if not done:
            logger.warning("a hand-over to the broker was still under way after %.0f s; its "
                           "messages are left to their leases", timeout)
        return done


_submitter = Submitter()


def flush(timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
    """Hand every message this process accepted over before returning: to the broker, or, with
    the in-process transport, through its sends and their outcomes (the sender and recorder
    threads are daemons: a command or script that exits would take claimed messages with it,
    to wait for their leases). Commands call it when they finish; processes that end without
    atexit (Celery's prefork children) too."""
    handed = _submitter.flush(timeout)
    inprocess = _transports.get("inprocess")
    if isinstance(inprocess, InProcessTransport) and inprocess.pid == os.getpid():
        if not inprocess.wait_idle(timeout):
            logger.warning("in-process deliveries were still under way after %.0f s; their "
                           "messages are left to their leases", timeout)
            return False
    return handed


def _at_exit() -> None:
    from django_qstash.delivery import sender

    flush()
    sender.close()  # only now: the sends flush waited for used its connections


# At interpreter exit, daemon threads are still alive while atexit handlers run: the hand-over
# and the sends in progress can finish.
atexit.register(_at_exit)


def hand_over(items: list[WorkItem]) -> None:
    """Publishing's way in: through the submitter thread for a broker, directly in-process."""
    if not items:
        return
    if isinstance(get_transport(), CeleryTransport):
        _submitter.add(items)
    else:
        submit_or_leave_to_lease(items)


def submit_or_leave_to_lease(items: list[WorkItem]) -> None:
    """Hand items over; if that fails the rows stay claimed and their lease brings them back."""
    if not items:
        return
    try:
        get_transport().submit(items)
    except Exception:
        logger.exception("could not submit %d messages; they will be reclaimed when their "
                         "leases expire", len(items))
