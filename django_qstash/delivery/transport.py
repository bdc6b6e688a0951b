"""How claimed work reaches a worker: threads in this process, or Celery tasks on a broker."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Protocol

from django.utils.module_loading import import_string

from django_qstash.conf import qstash_settings
from django_qstash.core.leases import WorkItem
from django_qstash.delivery.batch_thread import BatchThread
from django_qstash.delivery.runtime import FLUSH_TIMEOUT_SECONDS, current

logger = logging.getLogger("django_qstash.delivery.transport")


def in_batches(items: list[WorkItem]):
    size = qstash_settings.DELIVERY_BATCH_SIZE
    for start in range(0, len(items), size):
        yield [tuple(item) for item in items[start:start + size]]


class Transport(Protocol):
    """What ``QSTASH["TRANSPORT"]`` names: a short name, or the dotted path of a class built
    without arguments. The process runtime owns the instance: ``stage``, ``wait_idle``,
    ``stop`` and ``join`` are optional (see ``runtime.Runtime``)."""

    # True: work runs in this process, and publishing hands it over directly; False: to a
    # broker, through the runtime's submitter thread.
    in_process: bool

    def submit(self, items: list[WorkItem]) -> None: ...


class InProcessTransport:
    """Worker threads inside this process: the dev server and most tests use it."""

    in_process = True
    stage = 20  # drained after the submitter, before the recorder its batches feed

    def __init__(self, workers: int | None = None) -> None:
        workers = workers or qstash_settings.INPROCESS_WORKERS
        self.executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="qstash-worker")
        self._in_flight = 0
        self._idle = threading.Condition()

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
        """Block until every submitted batch has started its sends (the runtime waits for
        their outcomes after this)."""
        with self._idle:
            return self._idle.wait_for(lambda: self._in_flight == 0, timeout)

    def stop(self) -> None:
        self.executor.shutdown(wait=False)


class CeleryTransport:
    """One Celery task per batch of claimed messages; tasks carry ids only, never the message."""

    in_process = False

    def submit(self, items: list[WorkItem]) -> None:
        from django_qstash.delivery.celery_task import deliver_batch

        for batch in in_batches(items):
            # argsrepr given: Celery would otherwise format the arguments for its logs.
            deliver_batch.apply_async((batch,), queue=qstash_settings.CELERY_QUEUE,
                                      argsrepr=f"[{len(batch)} messages]", kwargsrepr="{}")


# The short names QSTASH["TRANSPORT"] accepts besides a dotted path.
TRANSPORTS = {"inprocess": InProcessTransport, "celery": CeleryTransport}


def transport_class(name: str) -> type:
    """The class ``QSTASH["TRANSPORT"]`` names (DRF's ``perform_import`` style); ImportError
    when a dotted path does not import, ValueError for anything else."""
    if name in TRANSPORTS:
        return TRANSPORTS[name]
    if not isinstance(name, str) or "." not in name:
        raise ValueError(f"Unknown QSTASH TRANSPORT {name!r}: 'inprocess', 'celery' or the "
                         "dotted path of a transport class")
    return import_string(name)


_KEYS: dict[str, str] = {}


def get_transport() -> Transport:
    """This process's transport for the current setting (tests change it), made on first use."""
    name = qstash_settings.TRANSPORT
    key = _KEYS.get(name) or _KEYS.setdefault(name, f"transport:{name}")
    return current().part(key, _new_transport, name)


def _new_transport(name: str) -> Transport:
    return transport_class(name)()


def submitter() -> Submitter:
    """This process's submitter, its thread started on first use (a broker transport)."""
    return current().part("submitter", lambda: Submitter().start())


def start_parts() -> None:
    """What ``Runtime.start()`` starts: the transport, the submitter for a broker, and what
    sends: the recorder and the sender loop."""
    from django_qstash.delivery.recorder import recorder
    from django_qstash.delivery.sender import loop

    if not getattr(get_transport(), "in_process", False):
        submitter()
    recorder()
    loop()


class Submitter(BatchThread):
    """Hands due-now messages to a broker transport from a thread of its own: the publish
    that claimed them is answered without waiting for the broker, and messages published
    meanwhile travel together in one task. The process runtime starts it on first use and
    flushes it before the process ends: ``flush`` hands over what is waiting and waits for
    the hand-over in progress. Only a process killed outright leaves its messages to their
    leases."""

    def __init__(self) -> None:
        super().__init__("qstash-submitter")  # `handling`: hand-overs not yet finished
        self.stage = 10  # drained first: what it hands over may be in-process work

    def add(self, items: list[WorkItem]) -> None:
        with self.cond:
            self.pending.extend(items)
            self.cond.notify_all()

    def _handle(self, items: list[WorkItem]) -> None:
        submit_or_leave_to_lease(items)

    def flush(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Return once everything added so far is with the broker (or failed to get there and
        is left to its lease); False if a hand-over was still under way after ``timeout``."""
        with self.cond:
            items, self.pending = self.pending, []
        if items:  # sent from here: the thread may be busy, or about to die with the process
            submit_or_leave_to_lease(items)
        with self.cond:
            done = self.cond.wait_for(lambda: not self.handling, timeout)
        if not done:
            logger.warning("a hand-over to the broker was still under way after %.0f s; its "
                           "messages are left to their leases", timeout)
        return done

    def wait_idle(self, timeout: float) -> bool:
        return self.flush(min(timeout, FLUSH_TIMEOUT_SECONDS))


def flush(timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
    """Hand every message this process accepted over before returning: to the broker, or, with
    the in-process transport, through its sends and their outcomes (see ``Runtime.wait_idle``).
    Commands call it when they finish."""
    return current().wait_idle(timeout)


def hand_over(items: list[WorkItem], inserted: list | None = None) -> None:
    """Publishing's way in: directly in-process; for a broker, sent by this process itself
    while its local share has room (``LOCAL_DELIVERY_LIMIT``), the rest through the
    submitter thread. ``inserted``: the items' rows as just written (see ``LocalDelivery``)."""
    if not items:
        return
    if getattr(get_transport(), "in_process", False):
        submit_or_leave_to_lease(items)
        return
    if qstash_settings.LOCAL_DELIVERY_LIMIT:
        items = local_delivery().take(items, inserted)
    if items:
        submitter().add(items)


def local_delivery():
    """This process's own sender of the due-now messages it publishes (a broker transport)."""
    return current().part("local", _new_local_delivery)


def _new_local_delivery():
    from django_qstash.delivery.local import LocalDelivery

    return LocalDelivery(qstash_settings.LOCAL_DELIVERY_LIMIT, submit_or_leave_to_lease).start()


def submit_or_leave_to_lease(items: list[WorkItem]) -> None:
    """Hand items over; if that fails the rows stay claimed and their lease brings them back."""
    if not items:
        return
    try:
        get_transport().submit(items)
    except Exception:
        logger.exception("could not submit %d messages; they will be reclaimed when their "
                         "leases expire", len(items))
