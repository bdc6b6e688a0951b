"""A long-lived thread's database connection, dropped when broken or expired without ever raising."""

from __future__ import annotations

import logging

from django.db import close_old_connections

logger = logging.getLogger("django_qstash.db")


def drop_stale_connections() -> None:
    """``close_old_connections()`` for the threads that deliver, record and dispatch. Closing
    can itself fail (a connection broken mid-transaction, database access withdrawn): that
    is logged, never raised, because such a thread dying would stop that work for the
    whole process while every message it took waits for its lease."""
    try:
        close_old_connections()
    except Exception:
        logger.warning("could not close this thread's database connection", exc_info=True)
