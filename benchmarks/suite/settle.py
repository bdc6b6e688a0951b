"""Between scenarios: the database writes out the previous one's work before the next starts."""

from __future__ import annotations

import time

import psycopg

from .common import PG_ADMIN_URL, machine_busy_seconds

AUTOVACUUM_SQL = "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'autovacuum worker'"


def settle(timeout: float = 60, quiet_percent: float = 25) -> str:
    """CHECKPOINT, then wait (up to ``timeout``) for autovacuum workers to finish and the
    machine to go quiet. Without it a scenario paid for the one before it: the checkpoint
    and the vacuums of the rows it had written landed in the next scenario's measurements.
    Returns what it waited for, for the log."""
    begun = time.monotonic()
    with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
        conn.execute("CHECKPOINT")
        while conn.execute(AUTOVACUUM_SQL).fetchone()[0] and time.monotonic() - begun < timeout:
            time.sleep(0.5)
    while time.monotonic() - begun < timeout:
        before = machine_busy_seconds()
        time.sleep(1)
        if (machine_busy_seconds() - before) * 100 < quiet_percent:
            break
    return f"settled in {time.monotonic() - begun:.1f} s"
