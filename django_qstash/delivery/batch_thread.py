"""A thread that takes what was added, all of it at once, and handles it as one batch."""

from __future__ import annotations

import logging
import threading
from typing import Self

from django_qstash.core.leases import WorkItem

logger = logging.getLogger("django_qstash.delivery.transport")


class BatchThread:
    """The loop the submitter and the local sender share: wait for items or a stop, take
    everything waiting as one batch, ``_handle`` it. ``handling`` counts the batches taken
    and not yet handled, so a drain can wait for them; with ``stopping`` set the thread ends
    once nothing is waiting. Subclasses add items to ``pending`` under ``cond`` and notify."""

    def __init__(self, name: str) -> None:
        self.cond = threading.Condition()
        self.pending: list[WorkItem] = []
        self.handling = 0
        self.stopping = False
        self.thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> Self:
        self.thread.start()
        return self

    def stop(self) -> None:
        """The thread handles what is waiting, then ends."""
        with self.cond:
            self.stopping = True
            self.cond.notify_all()

    def join(self, timeout: float | None = None) -> None:
        if self.thread.ident is not None:  # never started: nothing to wait for
            self.thread.join(timeout)

    def _handle(self, items: list[WorkItem]) -> None:
        raise NotImplementedError

    def _run(self) -> None:
        while (items := self._next_batch()) is not None:
            try:
                self._handle(items)
            except Exception:
                # The thread goes on: ended, it would leave everything added later waiting.
                logger.exception("handling %d messages failed; their leases will hand them "
                                 "out again", len(items))
            finally:
                with self.cond:
                    self.handling -= 1
                    self.cond.notify_all()

    def _next_batch(self) -> list[WorkItem] | None:
        with self.cond:
            self.cond.wait_for(lambda: self.pending or self.stopping)
            if not self.pending:
                return None
            items, self.pending = self.pending, []
            self.handling += 1
            return items
