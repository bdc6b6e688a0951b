"""pytest plugin: ``qstash_outbox`` keeps what the Python API publishes; ``qstash_runtime`` runs
delivery; no delivery thread outlives its test."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from django_qstash.client import Outbox
    from django_qstash.delivery.runtime import Runtime

# pytest loads this module for every run, before Django settings are configured: it imports
# only pytest here and the client when the fixture is used.


@pytest.fixture
def qstash_outbox() -> Iterator[Outbox]:
    """Messages published with ``django_qstash.client`` during the test, kept instead of sent.

    A list of ``OutgoingMessage`` (destination, body, headers, options, queue, tenant,
    message_id), like Django's ``mail.outbox``; the previous backend is restored afterwards.
    """
    from django_qstash.client import Outbox, use_backend

    outbox = Outbox()
    with use_backend(outbox):
        yield outbox


@pytest.fixture
def qstash_runtime() -> Iterator[Runtime]:
    """This process's delivery runtime, started for the test; stopped and joined afterwards,
    once what the test published is sent and recorded (``wait_idle()`` waits for that inside
    a test)."""
    from django_qstash.delivery.runtime import current

    runtime = current().start()
    yield runtime
    runtime.stop(timeout=30)
    runtime.join()


# However long a test's leftover sends may take to be answered and recorded at its end.
LEFTOVER_TIMEOUT_SECONDS = 10.0


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    """No delivery thread outlives its test. A test that published a due-now message
    without ``qstash_runtime`` started the runtime on first use: it is stopped before the
    test's fixtures are torn down, while its database is still there (a thread writing
    into the next test's database, or into one being flushed, breaks both tests). Whatever
    a fixture's teardown started again is stopped after it."""
    if "qstash_runtime" not in getattr(item, "fixturenames", ()):
        _stop_runtime()
    yield
    _stop_runtime()


def _stop_runtime() -> None:
    # Only if delivery was imported at all: most tests never load it.
    runtime_module = sys.modules.get("django_qstash.delivery.runtime")
    if runtime_module is None or not (runtime := runtime_module.current()).running:
        return
    runtime.stop(timeout=LEFTOVER_TIMEOUT_SECONDS)
    runtime.join()
