"""Stop and start the machine's Redis and PostgreSQL the way this machine starts them."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from pathlib import Path

import pytest

OPT_IN = "QSTASH_TEST_CHAOS"
OPT_IN_REASON = (f"SKIPPING: this test stops and restarts the machine's own PostgreSQL and Redis, "
                 f"which would break everything else using them; opt in with {OPT_IN}=1 "
                 f"(CI=true runs it)")


def opted_in() -> bool:
    """Restarting shared services is allowed only on request, or in CI (a machine of its own)."""
    return (os.environ.get(OPT_IN, "").lower() in ("1", "true", "yes")
            or os.environ.get("CI", "").lower() == "true")


# Put on every test (or module, as ``pytestmark``) that calls the functions below.
requires_opt_in = pytest.mark.skipif(not opted_in(), reason=OPT_IN_REASON)


def _refuse_unless_opted_in() -> None:
    # A second guard: a test that forgot the mark still cannot touch the shared services.
    if not opted_in():
        raise RuntimeError(OPT_IN_REASON)

REDIS_START = ["redis-server", "--daemonize", "yes", "--bind", "127.0.0.1", "-::1", "--port",
               "6379", "--save", "", "--appendonly", "no", "--dir", "/var/lib/redis",
               "--logfile", "/var/log/redis/ci.log"]


def _up(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def wait_port(port: int, up: bool, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if _up(port) == up:
            return
        time.sleep(0.2)
    raise RuntimeError(f"port {port} did not go {'up' if up else 'down'} within {timeout}s")


def postgres_version() -> str:
    return sorted(os.listdir("/etc/postgresql"))[-1]


def stop_postgres() -> None:
    _refuse_unless_opted_in()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", postgres_version(), "main",
                    "stop", "-m", "fast"], check=True, timeout=60)
    wait_port(5432, up=False)


def start_postgres() -> None:
    _refuse_unless_opted_in()
    subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", postgres_version(), "main",
                    "start"], check=True, timeout=60)
    wait_port(5432, up=True)


def restart_redis() -> None:
    _refuse_unless_opted_in()
    subprocess.run(["redis-cli", "-p", "6379", "shutdown", "nosave"], timeout=30)
    wait_port(6379, up=False)
    Path("/var/log/redis").mkdir(parents=True, exist_ok=True)
    subprocess.run(REDIS_START, check=True, timeout=30)
    wait_port(6379, up=True)


def can_restart_services() -> bool:
    """Only where we run the services ourselves (root, Debian's tools on PATH)."""
    return (os.geteuid() == 0 and Path("/etc/postgresql").is_dir()
            and subprocess.run(["which", "pg_ctlcluster", "redis-server"],
                               capture_output=True).returncode == 0)
