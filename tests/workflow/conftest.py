"""Fixtures of the Workflow tests: workflow endpoints as the server sees them, and Node with the
official SDK."""

from __future__ import annotations

import pytest

from tests.support.node_packages import node_with_packages
from tests.support.sink import start_sink
from tests.workflow.helpers import NODE_DIR

PINNED = ("@upstash/workflow", "@upstash/qstash")


@pytest.fixture(scope="module")
def node() -> str:
    """Node with the Workflow SDK harness's pinned packages (``npm ci`` when stale)."""
    return node_with_packages(NODE_DIR, PINNED, "Workflow SDK run")


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
