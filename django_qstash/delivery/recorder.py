"""Outcomes of detached batches, recorded by a thread of the process after the task returns."""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future
from datetime import datetime, timedelta
from functools import partial

from django_qstash.core import clock
from django_qstash.db.connections import drop_stale_connections
from django_qstash.delivery.runtime import current
from django_qstash.engine.lifecycle import record_outcomes
from django_qstash.models import Message

logger = logging.getLogger("django_qstash.delivery.worker")
# Outcomes finished within this window are written together: fewer, larger transactions.
FLUSH_SECONDS = 0.02
HOLD_SECONDS = 1.0
# Due-now outcomes landed and not yet written beyond which a task waits to hand in more:
# the recorder keeps up with the sends, and rows do not sit claimed and unrecorded for long.
# Requests still out do not count: a slow destination must not stop the worker's slots.
MAX_UNWRITTEN_NOW = 1000
# How long a task waits for that; a recorder stuck on its database must not hold every slot.
BACKPRESSURE_SECONDS = 60.0


class Recorder:
    """A batch holds its worker slot only until its requests are started (claimed ahead of
    its due time: prepared and signed): the task returns and the slot takes the next one
    while the requests are out. This thread writes the outcomes once they land, those of
    several tasks in one transaction; a burst's outcomes wait until the sends due in the same
    moment are out. Outcomes still unwritten when the process dies are covered by the
    leases, like any unfinished task."""

    def __init__(self) -> None:
        self.cond = threading.Condition()
        # (write from, result), not yet taken; "write from" None: as soon as it lands
        self.landed: list[tuple[datetime | None, tuple]] = []
        self.sending = 0  # requests handed in whose outcome has not landed
        self.unwritten = 0  # outcomes handed in and not yet written
        self.unwritten_now = 0  # due-now ones landed and not yet written
        self.stopped = threading.Event()  # set by stop(); the 20 ms linger waits on it
        self.stage = 30  # drained after the transports that hand it outcomes
        self.thread = threading.Thread(target=self._run, name="qstash-recorder", daemon=True)

    def start(self) -> Recorder:
        self.thread.start()
        return self

    def stop(self) -> None:
        """The thread writes what it holds, then ends (the runtime drains it first)."""
        with self.cond:
            self.stopped.set()
            self.cond.notify_all()

    @property
    def stopping(self) -> bool:
        return self.stopped.is_set()

    def join(self, timeout: float | None = None) -> None:
        if self.thread.ident is not None:
            self.thread.join(timeout)

    def add(self, futures: dict[Future, Message], record_from: datetime | None) -> None:
        with self.cond:
            if record_from is None:
                if not self.cond.wait_for(lambda: self.unwritten_now < MAX_UNWRITTEN_NOW,
                                          BACKPRESSURE_SECONDS):
                    logger.warning("recording lags: %d due-now outcomes unwritten after %.0fs",
                                   self.unwritten_now, BACKPRESSURE_SECONDS)
            self.sending += len(futures)
            self.unwritten += len(futures)
        # Callbacks, not wait(): waiting on a burst's thousands of futures every few
        # milliseconds cost more than the sends.
        for future, message in futures.items():
            future.add_done_callback(partial(self._land, message, record_from))

    def _land(self, message: Message, record_from: datetime | None, future: Future) -> None:
        result = self._result(future, message)
        with self.cond:
            self.landed.append((record_from, result))
            self.sending -= 1
            if record_from is None:
                self.unwritten_now += 1
            # Only the recorder waits for outcomes to land, and only while none has: waking
            # it for each of a burst's thousands took CPU from the sends still going out.
            if len(self.landed) == 1:
                self.cond.notify_all()

    def drain(self, timeout: float = 60) -> bool:
        """Wait until everything handed in is recorded (worker shutdown); False on timeout."""
        with self.cond:
            return self.cond.wait_for(lambda: self.unwritten == 0, timeout)

    wait_idle = drain

    def _run(self) -> None:
        held: list[tuple[datetime | None, tuple]] = []
        while True:
            with self.cond:
                self.cond.wait_for(lambda: self.landed or self.stopping,
                                   FLUSH_SECONDS if held else None)
                if self.stopping and not self.landed and not held:
                    return
                linger = not held and not self.stopping
            if linger:
                # The first outcome waits a moment for those landing right after it: one
                # statement then records several (nothing is sent later for it). Not on the
                # condition, which every landing outcome would wake.
                self.stopped.wait(FLUSH_SECONDS)
            with self.cond:
                held += self.landed
                self.landed = []
                sending = self.sending
            # While sends are still out, writing waits (up to HOLD_SECONDS past its time):
            # the outcomes of a burst would otherwise take the CPU from the rest of it.
            until = clock.now() - timedelta(seconds=HOLD_SECONDS if sending else 0)

            def is_due(record_from: datetime | None) -> bool:
                return record_from is None or record_from <= until or not sending or \
                    self.stopping

            due = [entry for entry in held if is_due(entry[0])]
            if not due:
                continue
            held = [entry for entry in held if not is_due(entry[0])]
            self._write([result for _, result in due])
            with self.cond:
                self.unwritten -= len(due)
                self.unwritten_now -= sum(1 for record_from, _ in due if record_from is None)
                self.cond.notify_all()

    @staticmethod
    def _result(future: Future, message: Message) -> tuple:
        try:
            return (message, *future.result())
        except Exception:
            logger.exception("sending %s failed; its lease will hand it out again", message.id)
            return (message, None, None)

    @staticmethod
    def _write(results: list[tuple]) -> None:
        try:
            record_outcomes([result for result in results if result[1] is not None])
        except Exception:
            logger.exception("recording %d outcomes failed; leases will hand them out again",
                             len(results))
        finally:
            drop_stale_connections()


def recorder() -> Recorder:
    """This process's recorder, its thread started on first use."""
    return current().part("recorder", lambda: Recorder().start())
