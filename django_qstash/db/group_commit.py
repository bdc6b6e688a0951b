"""Group commit: concurrent autocommit inserts in one process share one statement and one commit.

A request thread that finds no write in progress writes everything queued so far (its own
rows and those of requests that arrived meanwhile) in one transaction, then wakes the others;
one that finds a write in progress waits for the next one. Every caller returns only after its
rows are committed, so nothing is acknowledged before it is stored. Under load this turns N
round trips and N commits into one; alone, a caller writes at once, with no added delay.

Whatever a write raises fails exactly the callers whose rows it held, and the writer is handed
on in every case, so one bad request can never leave the others waiting. Every wait is bounded.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from django.db import InterfaceError, OperationalError

Groups = Sequence[tuple[type, Sequence]]
# More than this many rows are not worth waiting for: such a caller writes alone.
MAX_ROWS = 2000
# How long a caller waits for its turn, then (once taken) for the write holding its rows.
WAIT_SECONDS = 30.0


class GroupCommitTimeout(TimeoutError):
    """The rows were not written in time; ``stored_unknown`` when a write holding them was
    still running (they may yet be committed)."""

    def __init__(self, message: str, stored_unknown: bool) -> None:
        super().__init__(message)
        self.stored_unknown = stored_unknown


class _Item:
    __slots__ = ("groups", "rows", "done", "written", "error", "wake")

    def __init__(self, groups: Groups) -> None:
        self.groups, self.rows = groups, sum(len(objs) for _, objs in groups)
        self.done, self.written, self.error = False, False, None
        self.wake = threading.Event()  # set when written, or when this caller must write next


class GroupCommit:
    def __init__(self, write: Callable[[Groups], None],
                 wait_seconds: float = WAIT_SECONDS) -> None:
        self.write = write
        self.wait_seconds = wait_seconds
        self.lock = threading.Lock()
        self.queue: list[_Item] = []
        self.busy = False

    def submit(self, groups: Groups) -> None:
        """Write ``groups`` (model, objects) pairs, committed together with whatever else is
        queued; raises what writing them raised."""
        item = _Item(groups)
        if item.rows > MAX_ROWS:
            self.write(groups)
            return
        with self.lock:
            self.queue.append(item)
            lead = not self.busy
            self.busy = True
        if lead or self._await_turn(item):
            self._lead()
        if item.error is not None:
            raise item.error

    def _await_turn(self, item: _Item) -> bool:
        """Wait for exactly one wake-up; True when this caller must write the next batch."""
        if not item.wake.wait(self.wait_seconds):
            with self.lock:
                # Wake-ups are sent under the lock, so this check cannot race one.
                if not item.wake.is_set() and item in self.queue:
                    self.queue.remove(item)  # nobody holds these rows: withdraw them
                    raise GroupCommitTimeout("timed out waiting for the database write",
                                             stored_unknown=False)
            # A write holds these rows: wait for its outcome, but not forever either.
            if not item.wake.wait(self.wait_seconds):
                raise GroupCommitTimeout("the database write did not finish in time",
                                         stored_unknown=True)
        return not item.done

    def _lead(self) -> None:
        batch: list[_Item] = []
        try:
            with self.lock:
                batch = self._take()
            self._write_batch(batch)
        finally:
            # Runs whatever happened above (even KeyboardInterrupt or a bug in this module):
            # every caller of the batch gets an answer and the next one takes over.
            with self.lock:
                for queued in batch:
                    if not queued.written and queued.error is None:
                        queued.error = RuntimeError("the database write was interrupted")
                    queued.done = True
                    queued.wake.set()
                successor = self.queue[0] if self.queue else None
                self.busy = successor is not None
                if successor is not None:
                    successor.wake.set()

    def _take(self) -> list[_Item]:
        batch, rows = [], 0
        while self.queue and (not batch or rows + self.queue[0].rows <= MAX_ROWS):
            rows += self.queue[0].rows
            batch.append(self.queue.pop(0))
        return batch

    def _write_batch(self, batch: list[_Item]) -> None:
        if len(batch) == 1:
            self._write_alone(batch[0])
            return
        merged: dict[type, list] = {}
        for queued in batch:
            for model, objs in queued.groups:
                merged.setdefault(model, []).extend(objs)
        try:
            self.write(list(merged.items()))
        except (OperationalError, InterfaceError) as exc:
            for queued in batch:  # the database is unreachable: the same answer for everyone
                queued.error = exc
        except Exception:
            # One caller's rows spoiled the shared write (a constraint, a value the driver
            # cannot encode, ...): write each on its own, so the others are stored and only
            # the culprit sees the error.
            for queued in batch:
                self._write_alone(queued)
        else:
            for queued in batch:
                queued.written = True

    def _write_alone(self, item: _Item) -> None:
        try:
            self.write(item.groups)
        except Exception as exc:
            item.error = exc
        else:
            item.written = True
