"""Reach the real PostgreSQL and Redis; under CI=true their absence fails, elsewhere it skips."""

from __future__ import annotations

import os
import socket

import pytest

POSTGRES_URL = os.environ.get("QSTASH_TEST_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("QSTASH_TEST_REDIS_URL", "redis://127.0.0.1:6379/9")


def _reachable(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def require_services() -> None:
    missing = [name for name, port in (("PostgreSQL", 5432), ("Redis", 6379))
               if not _reachable("127.0.0.1", port)]
    if not missing:
        return
    reason = f"{' and '.join(missing)} not reachable on 127.0.0.1"
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"{reason}: CI must run the PostgreSQL + Redis + Celery tests")
    pytest.skip(f"SKIPPING production-path tests: {reason}")
