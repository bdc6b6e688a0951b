"""The workflow DLQ through the official Workflow SDK: ``client.dlq.list``, ``resume``,
``restart`` and ``retryFailureFunction`` against the live server (``node/dlq.test.mjs``)."""

from __future__ import annotations

import pytest

from tests.workflow.test_workflow_sdk import run_node_tests

pytestmark = pytest.mark.django_db(transaction=True)


def test_workflow_sdk_dlq_against_the_live_server(node, qstash):
    run_node_tests(node, qstash, test_file="dlq.test.mjs")
