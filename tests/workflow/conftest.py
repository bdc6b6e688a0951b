"""Fixtures of the Workflow tests: workflow endpoints as the server sees them."""

from __future__ import annotations

import pytest

from tests.support.sink import start_sink


@pytest.fixture
def sink(sink):
    """A workflow endpoint, as far as the server can tell: it answers with the SDK's
    protocol version."""
    sink.response_headers["Upstash-Workflow-Sdk-Version"] = "1"
    return sink


@pytest.fixture
def plain_sink():
    plain = start_sink()
    yield plain
    plain.close()
