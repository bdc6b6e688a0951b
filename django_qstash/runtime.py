"""One owner per process for delivery's threads, event loop, session, pools and shared writers."""

from __future__ import annotations

import atexit
import logging
import os
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar

from .conf import qstash_settings

if TYPE_CHECKING:
    from concurrent.futures import ThreadPoolExecutor

    from .group_commit import GroupCommit
    from .recorder import Recorder
    from .sender import SenderLoop
    from .transport import Submitter, Transport

logger = logging.getLogger("django_qstash.runtime")
T = TypeVar("T")

# Long enough for a first connection to the broker; a broker that takes longer is down, and
# the messages' leases bring them back.
FLUSH_TIMEOUT_SECONDS = 10.0
# A worker waits this long at shutdown for the outcomes of the sends still out.
SHUTDOWN_TIMEOUT_SECONDS = 60.0


class Runtime:
    """Everything of this process that delivery keeps running, owned in one place (dramatiq's
    ``Worker`` is the model): the transport, the submitter thread that hands due-now messages
    to a broker, the sender's event loop thread and aiohttp session, the recorder thread, the
    rate-slot pool and the group-commit writers.

    ``start()`` starts them at once (a Celery worker child, ``qstash_dev``, the dispatcher
    command, a test fixture); any other process starts each part on its first use, as a web
    process publishing due-now messages through Celery starts only the submitter.
    ``stop(timeout)`` hands over and records what was accepted, then closes, in that order;
    ``join()`` waits for the stopped threads. A forked child gets a fresh runtime (the
    parent's threads do not exist there): the one place that knows about fork."""

    def __init__(self) -> None:
        self.pid = os.getpid()
        self._lock = threading.RLock()
        self._parts: dict[str, Any] = {}
        self._stopped: list[Any] = []  # parts stopped and not yet joined

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> Runtime:
        """Start every part now rather than on first use; idempotent."""
        transport = self.transport
        if not getattr(transport, "in_process", False):
            self.submitter  # noqa: B018 (started by being asked for)
        self.recorder  # noqa: B018
        self.sender  # noqa: B018
        return self

    @property
    def running(self) -> bool:
        return bool(self._parts)

    def wait_idle(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Return once everything this process accepted is handed over: to the broker, or,
        in-process, sent and its outcome recorded. False if ``timeout`` ran out first."""
        # A deadline for several waits: a duration, so the monotonic clock, not the
        # injected one (a test's frozen clock would never run out).
        deadline = time.monotonic() + timeout

        def left() -> float:
            return max(0.0, deadline - time.monotonic())

        idle = True
        # Twice: outcomes recorded in the first round may publish callback messages, which
        # are handed over (and, in-process, sent and recorded) in the second.
        for _ in range(2):
            idle = True
            if (submitter := self._parts.get("submitter")) is not None:
                idle = submitter.flush(min(left(), FLUSH_TIMEOUT_SECONDS)) and idle
            for transport in self._transports():
                wait = getattr(transport, "wait_idle", None)
                if wait is not None and not wait(left()):
                    idle = False
            if (recorder := self._parts.get("recorder")) is not None:
                idle = recorder.drain(left()) and idle
        if not idle:
            logger.warning("deliveries were still under way after %.0f s; their messages are "
                           "left to their leases", timeout)
        return idle

    def stop(self, timeout: float = FLUSH_TIMEOUT_SECONDS) -> bool:
        """Hand over and record what was accepted (``wait_idle``), then stop every part: the
        session closes only once the sends it carried are done. Parts asked for afterwards
        start again. False if work was left to its leases."""
        idle = self.wait_idle(timeout) if self._parts else True
        with self._lock:
            parts, self._parts = self._parts, {}
        for name, part in parts.items():
            if name in ("submitter", "recorder"):
                part.stop()
            elif name == "http_pool":
                part.shutdown(wait=False)
            elif name.startswith("transport:"):
                close = getattr(part, "close", None)
                if close is not None:
                    close()
        if (sender := parts.get("sender")) is not None:
            sender.close()  # last: the sends waited for above used its connections
        with self._lock:
            self._stopped += [part for name, part in parts.items()
                              if name in ("submitter", "recorder", "sender")]
        return idle

    def join(self, timeout: float | None = 10) -> None:
        """Wait for the threads of the stopped parts to end."""
        with self._lock:
            stopped, self._stopped = self._stopped, []
        for part in stopped:
            part.join(timeout)

    # -- parts ---------------------------------------------------------------------------
    # Each accessor is on a hot path (every send asks for the sender): one dict read when
    # the part exists; imports and the lock only to create it.
    def _part(self, name: str, make: Callable[[], T]) -> T:
        with self._lock:
            part = self._parts.get(name)
            if part is None:
                part = self._parts[name] = make()
        return part

    def _transports(self) -> list:
        return [part for name, part in list(self._parts.items())
                if name.startswith("transport:")]

    @property
    def transport(self) -> Transport:
        """The transport ``QSTASH["TRANSPORT"]`` names (tests change the setting)."""
        name = qstash_settings.TRANSPORT
        return self._parts.get(_TRANSPORT_KEYS.get(name) or _transport_key(name)) or \
            self._part(_transport_key(name), partial(_make_transport, name))

    @property
    def submitter(self) -> Submitter:
        return self._parts.get("submitter") or self._part("submitter", _make_submitter)

    @property
    def recorder(self) -> Recorder:
        return self._parts.get("recorder") or self._part("recorder", _make_recorder)

    @property
    def sender(self) -> SenderLoop:
        return self._parts.get("sender") or self._part("sender", _make_sender)

    @property
    def http_pool(self) -> ThreadPoolExecutor:
        """Threads for rate-limited sends, which wait on their key's slot."""
        return self._parts.get("http_pool") or self._part("http_pool", _make_http_pool)

    def group_commit(self, alias: str, write: Callable) -> GroupCommit:
        """The writer that concurrent inserts into database ``alias`` share."""
        key = f"group_commit:{alias}"
        return self._parts.get(key) or self._part(key, partial(_make_group_commit, write))


_TRANSPORT_KEYS: dict[str, str] = {}


def _transport_key(name: str) -> str:
    key = _TRANSPORT_KEYS.get(name)
    if key is None:
        key = _TRANSPORT_KEYS[name] = f"transport:{name}"
    return key


def _make_transport(name: str) -> Transport:
    from .transport import transport_class

    return transport_class(name)()


def _make_submitter() -> Submitter:
    from .transport import Submitter

    return Submitter().start()


def _make_recorder() -> Recorder:
    from .recorder import Recorder

    return Recorder().start()


def _make_sender() -> SenderLoop:
    from .sender import SenderLoop

    return SenderLoop()


def _make_http_pool() -> ThreadPoolExecutor:
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=qstash_settings.DELIVERY_CONCURRENCY,
                              thread_name_prefix="qstash-http")


def _make_group_commit(write: Callable) -> GroupCommit:
    from .group_commit import GroupCommit

    return GroupCommit(write)


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


os.register_at_fork(after_in_child=_after_fork_in_child)


def _at_exit() -> None:
    # Daemon threads are still alive while atexit handlers run: the hand-over and the sends
    # in progress can finish. A process that ends without atexit (Celery's prefork children)
    # stops its runtime from the worker shutdown signal instead.
    if _runtime.running:
        _runtime.stop(FLUSH_TIMEOUT_SECONDS)


atexit.register(_at_exit)
