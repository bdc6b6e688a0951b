"""One owner per process for delivery's threads, loop, session and pools; fork is handled here."""

from __future__ import annotations

import atexit
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor
from importlib import import_module
from typing import Any, TypeVar

logger = logging.getLogger("django_qstash.delivery.runtime")
T = TypeVar("T")

# Long enough for a first connection to the broker; a broker that takes longer is down, and
# the messages' leases bring them back.
FLUSH_TIMEOUT_SECONDS = 10.0
# A worker waits this long at shutdown for the outcomes of the sends still out.
SHUTDOWN_TIMEOUT_SECONDS = 60.0


class Runtime:
    """Everything of this process that delivery keeps running, owned in one place (dramatiq's
    ``Worker`` is the model): the transport, the submitter thread that hands due-now messages
    to a broker, the sender's event loop thread and aiohttp session, the recorder thread and
    the rate-slot pool. Each module asks for its part by name (``part``) and gets the one of
    this process, made on first use.

    ``start()`` makes them at once (a Celery worker child, ``qstash_dev``, the dispatcher
    command, a test fixture); any other process makes each part on its first use, as a web
    process publishing due-now messages through Celery starts only the submitter.
    ``stop(timeout)`` hands over and records what was accepted, then stops the parts in
    order, the session last; ``join()`` waits for their threads. A forked child gets a fresh
    runtime (the parent's threads do not exist there), and the group-commit writers of the
    database layer are forgotten: the one place that knows about fork.

    A part may define ``stage`` (lower: drained and stopped first), ``wait_idle(timeout)``,
    ``stop()`` and ``join(timeout)``; an executor is shut down."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.RLock()
        self._parts: dict[str, Any] = {}
        self._stopped: list[Any] = []  # parts stopped and not yet joined

    def part(self, name: str, make: Callable[..., T], *args: Any) -> T:
        """This process's part ``name``, made by ``make(*args)`` on first use. On the hot
        path (every send asks for the sender): one dict read once it exists."""
        part = self._parts.get(name)
        if part is None:
            with self._lock:
                part = self._parts.get(name)
                if part is None:
                    part = self._parts[name] = make(*args)
        return part

    def start(self) -> Runtime:
        """Make every part now rather than on first use; idempotent."""
        import_module(STARTER).start_parts()
        return self

    @property
    def running(self) -> bool:
        return bool(self._parts)

    def _in_order(self, parts: dict[str, Any] | None = None) -> list:
        return sorted((parts if parts is not None else self._parts).values(),
                      key=lambda part: getattr(part, "stage", 50))

    def wait_idle(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Return once everything this process accepted is handed over: to the broker, or,
        in-process, sent and its outcome recorded. False if ``timeout`` ran out first."""
        # A deadline for several waits: a duration, so the monotonic clock, not the
        # injected one (a test's frozen clock would never run out).
        deadline = time.monotonic() + timeout
        idle = True
        # Twice: outcomes recorded in the first round may publish callback messages, which
        # are handed over (and, in-process, sent and recorded) in the second.
        for _ in range(2):
            idle = True
            for part in self._in_order():
                wait = getattr(part, "wait_idle", None)
                if wait is not None and not wait(max(0.0, deadline - time.monotonic())):
                    idle = False
        if not idle:
            logger.warning("deliveries were still under way after %.0f s; their messages are "
                           "left to their leases", timeout)
        return idle

    def stop(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Hand over and record what was accepted (``wait_idle``), then stop every part in
        order: the session closes only once the sends it carried are done. Parts asked for
        afterwards start again. False if work was left to its leases."""
        idle = self.wait_idle(timeout) if self._parts else True
        with self._lock:
            parts, self._parts = self._parts, {}
        for part in self._in_order(parts):
            if isinstance(part, Executor):
                part.shutdown(wait=False)
            elif (stop := getattr(part, "stop", None)) is not None:
                stop()
        with self._lock:
            self._stopped += [part for part in parts.values() if hasattr(part, "join")]
        return idle

    def join(self, timeout: float | None = 10) -> None:
        """Wait for the threads of the stopped parts to end."""
        with self._lock:
            stopped, self._stopped = self._stopped, []
        for part in stopped:
            part.join(timeout)


# The module whose ``start_parts()`` makes what ``start()`` starts: it owns those parts and
# imports this module, so it is named here rather than imported.
STARTER = "django_qstash.delivery.transport"
# Process-wide writers below delivery's layer, forgotten in a forked child (their locks may
# have been held by a thread of the parent); looked up only if already imported.
FORGOTTEN_AT_FORK = (("django_qstash.db.bulk_insert", "forget_writers"),)

_runtime = Runtime()
# A forked child's copy of its parent's runtime: kept, never used nor collected (collecting
# its session would log an "unclosed session" error for a session that is not this process's).
_inherited: list[Runtime] = []


def current() -> Runtime:
    """This process's runtime."""
    return _runtime


def _after_fork_in_child() -> None:
    global _runtime
    _inherited.append(_runtime)
    _runtime = Runtime()
    for module_name, function in FORGOTTEN_AT_FORK:
        if (module := sys.modules.get(module_name)) is not None:
            getattr(module, function)()


os.register_at_fork(after_in_child=_after_fork_in_child)


def _at_exit() -> None:
    # Daemon threads are still alive while atexit handlers run: the hand-over and the sends
    # in progress can finish. A process that ends without atexit (Celery's prefork children)
    # stops its runtime from the worker shutdown signal instead.
    if _runtime.running:
        _runtime.stop(FLUSH_TIMEOUT_SECONDS)


atexit.register(_at_exit)
