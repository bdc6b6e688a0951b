"""Start the production processes (granian, Celery workers, dispatchers) on PostgreSQL + Redis."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests.support import http_client
from tests.support.services import POSTGRES_URL, REDIS_URL

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    env: dict
    url: str = ""
    token: str = ""
    database: str = ""
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    logs: Path = ROOT / "tests" / ".stack-logs"

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def manage(self, *args: str) -> str:
        result = subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=self.env,
                                capture_output=True, text=True, timeout=120)
        if result.returncode:
            raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr}")
        return result.stdout

    def start(self, name: str, *argv: str) -> subprocess.Popen:
        self.logs.mkdir(exist_ok=True)
        log = open(self.logs / f"{name}.log", "ab")
        # Each process leads its own group so a kill takes its children (prefork pool) too.
        process = subprocess.Popen(argv, cwd=ROOT, env=self.env, stdout=log,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[name] = process
        return process

    def start_worker(self, name: str) -> subprocess.Popen:
        return self.start(name, sys.executable, "-m", "celery", "-A", "example_project",
                          "worker", "-Q", self.env["QSTASH_CELERY_QUEUE"], "-c", "2",
                          "-n", f"{name}-{self.database}@%h",
                          "--without-gossip", "--without-mingle", "-l", "INFO")

    def start_web(self, name: str) -> subprocess.Popen:
        port = self.url.rsplit(":", 1)[1]
        return self.start(name, sys.executable, "-m", "granian", "--interface", "wsgi",
                          "example_project.wsgi:application", "--host", "127.0.0.1",
                          "--port", port, "--workers", "2", "--blocking-threads", "4")

    def start_dispatcher(self, name: str) -> subprocess.Popen:
        return self.start(name, sys.executable, "manage.py", "qstash_dispatcher",
                          "--interval", "0.1")

    def kill(self, name: str) -> None:
        process = self.processes.pop(name)
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for name in list(self.processes):
            process = self.processes.pop(name)
            try:
                os.killpg(process.pid, signal.SIGTERM)
                process.wait(10)
            except (ProcessLookupError, subprocess.TimeoutExpired):
                os.killpg(process.pid, signal.SIGKILL)


def start_stack(workers: int = 2, dispatchers: int = 2, env: dict | None = None) -> Stack:
    """``env``: more environment for every process (settings the example project reads)."""
    database = f"qstash_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    base = POSTGRES_URL.rsplit("/", 1)[0]
    env = {**os.environ, "DATABASE_URL": f"{base}/{database}", "CELERY_BROKER_URL": REDIS_URL,
           "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "QSTASH_ALLOW_PRIVATE_DESTINATIONS": "true", "QSTASH_LEASE_GRACE_SECONDS": "2",
           # A killed worker's messages come back after timeout + grace + this allowance.
           "QSTASH_LEASE_PICKUP_SECONDS": "5",
           # A queue of its own, so stacks started side by side never take each other's tasks.
           "QSTASH_CELERY_QUEUE": f"qstash-{database}", "PYTHONUNBUFFERED": "1", **(env or {})}
    port = free_port()
    # Django's task API delivers back to the web process (example_project's TASKS).
    env["QSTASH_TASKS_BASE_URL"] = f"http://127.0.0.1:{port}"
    stack = Stack(env=env, database=database)
    stack.manage("migrate", "--noinput")
    stack.token = stack.manage("qstash_create_token", "--quiet").strip()
    stack.url = f"http://127.0.0.1:{port}"
    stack.start_web("web")
    for index in range(workers):
        stack.start_worker(f"worker{index + 1}")
    for index in range(dispatchers):
        stack.start_dispatcher(f"dispatcher{index + 1}")
    wait_until_up(stack)
    return stack


def wait_until_up(stack: Stack, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if http_client.get(stack.url + "/v2/keys", headers=stack.auth).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the production stack did not come up; see tests/.stack-logs")


def drop_stack(stack: Stack) -> None:
    stack.stop_all()
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{stack.database}" WITH (FORCE)')
