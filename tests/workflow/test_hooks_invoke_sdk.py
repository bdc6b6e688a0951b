"""Webhooks, context.invoke and the REST trigger with the official Workflow SDK
(``tests/workflow/node/hooks_invoke.test.mjs``) against the live server; set up, skipped and
failed as ``test_workflow_sdk.py`` describes."""

from __future__ import annotations

import pytest

from tests.workflow.test_workflow_sdk import run_node_tests

pytestmark = pytest.mark.django_db(transaction=True)


def test_webhooks_invoke_and_the_rest_trigger_through_the_sdk(node, qstash):
    run_node_tests(node, qstash, test_file="hooks_invoke.test.mjs")
