"""Due-now messages a process publishes, sent by that process itself, up to a bound; then the broker."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future

from django_qstash.core.leases import WorkItem
from django_qstash.delivery.batch_thread import BatchThread
from django_qstash.delivery.worker import process_batch_safely

logger = logging.getLogger("django_qstash.delivery.transport")
# Hand-overs of more messages than this (a batch, a large URL group) go to the broker whole.
SMALL_HAND_OVER = 10


class LocalDelivery(BatchThread):
    """With a broker transport, the due-now messages this process publishes skip the broker:
    its own sender loop sends them and its recorder writes their outcomes, as a worker does
    (the same batch path: fair shares, signing, outcomes written only for rows still owned).
    A broker round trip and a worker's task cost more CPU than the send itself. The rows
    are not read back whole: publishing hands over the rows it has just written
    (``inserted``), and one narrow read asks what could have changed since (still owned, a
    cancel requested) with the tenant's key. They take the fast path only without a queue or
    flow-control key, so no pause applies.

    At most ``limit`` messages are held here at once (waiting for this thread, or sent and
    not yet answered), taken a publish's hand-over at a time (a few messages: one, or a
    small URL group); what does not fit is handed back to go to the broker as before. The
    rows are claimed (lease and claim token) before they get here: a process killed outright
    leaves them to their leases, and a dispatcher hands them out again. On ``stop`` what this
    thread has not taken yet goes to the broker (``overflow``)."""

    stage = 15  # drained after the submitter, before the recorder its batches feed

    def __init__(self, limit: int, overflow: Callable[[list[WorkItem]], None]) -> None:
        super().__init__("qstash-local")  # `handling`: batches whose sends are not started yet
        self.limit = limit
        self.overflow = overflow
        self.held = 0  # taken and not yet answered (pending ones included)
        self.rows: dict[str, object] = {}  # pending items' rows as inserted, by message id

    def take(self, items: list[WorkItem], inserted: list | None = None) -> list[WorkItem]:
        """Keep the items if they all fit under the limit and are a small hand-over; else
        return them all (for the broker). A batch publish goes to the broker whole: its
        workers take it in one task, where a few messages split off here would each cost a
        batch of their own."""
        if len(items) > SMALL_HAND_OVER:
            return items
        with self.cond:
            if self.stopping or self.held + len(items) > self.limit:
                return items
            self.pending.extend(items)
            self.held += len(items)
            if inserted is not None:
                self.rows.update((row.id, row) for row in inserted)
            self.cond.notify_all()
        return []

    def _handle(self, items: list[WorkItem]) -> None:
        started: list[Future] = []
        with self.cond:
            rows = [self.rows.pop(item[0], None) for item in items]
        try:
            started = process_batch_safely(
                items, detach=True, inserted=rows if None not in rows else None)
        finally:
            with self.cond:
                self.held -= len(items) - len(started)
        for future in started:
            future.add_done_callback(self._answered)

    def _answered(self, future: Future) -> None:
        with self.cond:
            self.held -= 1

    def wait_idle(self, timeout: float) -> bool:
        """Return once every message taken has its send started (the recorder, drained after
        this, waits for the outcomes)."""
        with self.cond:
            return self.cond.wait_for(lambda: not self.pending and not self.handling, timeout)

    def stop(self) -> None:
        """What this thread has not taken yet goes to the broker instead of waiting here."""
        with self.cond:
            items, self.pending = self.pending, []
            self.held -= len(items)
            self.rows.clear()
        super().stop()
        if items:
            self.overflow(items)
