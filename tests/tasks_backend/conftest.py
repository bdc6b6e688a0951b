"""The task backend on a live server: TASKS pointing at it, a result poller, signal recorder."""

from __future__ import annotations

import threading
import time

import pytest


def backend_settings(base_url: str, **options) -> dict:
    return {"default": {
        "BACKEND": "django_qstash.tasks_backend.QStashTaskBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {"BASE_URL": base_url, "TENANT": "tests", "RETRY_DELAY": "100",
                    "DEFAULT_PARALLELISM": 4, **options},
    }}


@pytest.fixture
def tasks_on_qstash(qstash, settings):
    """TASKS["default"] is this server's backend, delivering to the live server."""
    settings.TASKS = backend_settings(qstash.url)
    return qstash


def wait_finished(result, timeout: float = 30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result.refresh()
        if result.is_finished:
            return result
        time.sleep(0.05)
    raise AssertionError(f"task {result.id} never finished; status {result.status}")


class SignalLog:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.seen: list[tuple[str, str, str]] = []

    def receiver(self, name: str):
        def record(sender, task_result, **kwargs):
            with self.lock:
                self.seen.append((name, task_result.id, str(task_result.status)))
        return record

    def for_result(self, result_id: str) -> list[tuple[str, str]]:
        with self.lock:
            return [(name, status) for name, rid, status in self.seen if rid == result_id]


@pytest.fixture
def task_signals():
    from django_tasks.signals import task_enqueued, task_finished, task_started

    log = SignalLog()
    receivers = [(signal, log.receiver(name)) for name, signal in
                 (("enqueued", task_enqueued), ("started", task_started),
                  ("finished", task_finished))]
    for signal, receiver in receivers:
        signal.connect(receiver, weak=False)
    yield log
    for signal, receiver in receivers:
        signal.disconnect(receiver)
