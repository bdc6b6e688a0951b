"""pytest plugin: the ``qstash_outbox`` fixture keeps what the Python API publishes in a test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from django_qstash.client import Outbox

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
