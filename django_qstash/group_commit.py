"""Group commit: concurrent autocommit inserts in one process share one statement and one commit.

A request thread that finds no write in progress writes everything queued so far (its own
rows and those of requests that arrived meanwhile) in one transaction, then wakes the others;
one that finds a write in progress waits for the next one. Every caller returns only after its
rows are committed, so nothing is acknowledged before it is stored. Under load this turns N
round trips and N commits into one; alone, a caller writes at once, with no added delay.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

from django.db import DatabaseError, InterfaceError, OperationalError

Groups = Sequence[tuple[type, Sequence]]
# More than this many rows are not worth waiting for: such a caller writes alone.
MAX_ROWS = 2000


class _Item:
    __slots__ = ("groups", "rows", "done", "error", "wake")

    def __init__(self, groups: Groups) -> None:
        self.groups, self.rows = groups, sum(len(objs) for _, objs in groups)
        self.done, self.error = False, None
        self.wake = threading.Event()  # set when written, or when this caller must write next


class GroupCommit:
    def __init__(self, write: Callable[[Groups], None]) -> None:
        self.write = write
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
            leader = not self.busy
            self.busy = True
        if not leader:
            item.wake.wait()  # exactly one wake-up: written, or promoted to write the next batch
        if not item.done:
            with self.lock:
                batch = self._take()
            self._write_batch(batch)
            with self.lock:
                for queued in batch:
                    queued.done = True
                successor = self.queue[0] if self.queue else None
                self.busy = successor is not None
            for queued in batch:
                if queued is not item:
                    queued.wake.set()
            if successor is not None:
                successor.wake.set()
        if item.error is not None:
            raise item.error

    def _take(self) -> list[_Item]:
        batch, rows = [], 0
        while self.queue and (not batch or rows + self.queue[0].rows <= MAX_ROWS):
            rows += self.queue[0].rows
            batch.append(self.queue.pop(0))
        return batch

    def _write_batch(self, batch: list[_Item]) -> None:
        if len(batch) == 1:
            try:
                self.write(batch[0].groups)
            except Exception as exc:
                batch[0].error = exc
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
        except DatabaseError:
            # One caller's rows spoiled the shared statement: write each on its own, so the
            # others are stored and only the culprit sees the error.
            for queued in batch:
                try:
                    self.write(queued.groups)
                except Exception as exc:
                    queued.error = exc
