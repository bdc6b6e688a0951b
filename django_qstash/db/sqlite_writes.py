"""SQLite for a server that writes from several threads: immediate write transactions, waiting."""

from __future__ import annotations

from collections.abc import Mapping

from django.db import connections

SQLITE_ENGINE = "django.db.backends.sqlite3"
# How long a writer waits for another's lock before "database is locked".
BUSY_TIMEOUT_SECONDS = 20


def defers_writes(database: Mapping) -> bool:
    """True for a SQLite database whose transactions begin deferred (Django's default): one
    that reads and then writes while another thread holds the write lock fails at once with
    "database is locked" (SQLite cannot wait there without risking a deadlock), which the API
    answers 503. Begun IMMEDIATE, writers queue for the lock instead."""
    options = database.get("OPTIONS") or {}
    return (database.get("ENGINE") == SQLITE_ENGINE
            and str(options.get("transaction_mode") or "").upper() != "IMMEDIATE")


def begin_writes_immediately() -> list[str]:
    """For the dev server's own process (API, dispatcher and delivery threads on one file):
    every SQLite database begins its transactions IMMEDIATE and waits for the lock, as if the
    project had configured it. Returns the aliases changed; their open connections are closed
    so the next use connects with the new options."""
    changed = []
    for alias in connections:
        database = connections.settings[alias]
        if not defers_writes(database):
            continue
        options = database.setdefault("OPTIONS", {})
        options["transaction_mode"] = "IMMEDIATE"
        options.setdefault("timeout", BUSY_TIMEOUT_SECONDS)
        connections[alias].close()
        changed.append(alias)
    return changed
