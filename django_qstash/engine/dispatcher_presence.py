"""Whether a dispatcher runs in this process; a warning when in-process work waits for one."""

from __future__ import annotations

import logging
import threading

from django_qstash.conf import qstash_settings

logger = logging.getLogger("django_qstash.engine.dispatcher")

_lock = threading.Lock()
_running = 0
_warned = False


def dispatcher_started() -> None:
    global _running
    with _lock:
        _running += 1


def dispatcher_stopped() -> None:
    global _running
    with _lock:
        _running -= 1


def warn_if_nothing_dispatches(message_id: str, why: str) -> None:
    """Delayed, retried and queued messages leave only when a dispatcher claims them. With the
    in-process transport under ``runserver`` none runs, and they would wait silently: say so,
    once per process (a separate ``qstash_dispatcher`` makes this warning moot)."""
    global _warned
    if _running or _warned or qstash_settings.TRANSPORT != "inprocess":
        return
    with _lock:
        if _warned:
            return
        _warned = True
    logger.warning("message %s %s, and no dispatcher runs in this process: it leaves only once "
                   "'manage.py qstash_dispatcher' runs beside it. To develop, run "
                   "'manage.py qstash_dev' (server, dispatcher and workers in one process) "
                   "instead of runserver.", message_id, why)
