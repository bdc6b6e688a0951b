"""pytest plugin: ``qstash_outbox`` keeps what the Python API publishes; ``qstash_runtime`` runs delivery."""

from __future__ import annotations

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
