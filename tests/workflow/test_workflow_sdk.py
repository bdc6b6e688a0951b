"""The official Workflow SDK ``@upstash/workflow`` (Node 20) runs its workflows on our live server.

The Node side lives in ``tests/workflow/node/`` (SDK versions pinned in package.json and
package-lock.json): an ``http`` server on loopback serving workflows with the SDK's ``serve``,
and ``node --test`` cases that trigger them and read the runs back through the SDK's Client.
Node packages are installed with ``npm ci`` when node_modules is missing or stale. Without
node/npm, or when the install fails, the test skips with the reason — except under
``CI=true``, where it fails.
"""

from __future__ import annotations

import os

import pytest

from tests.support.node_packages import run_node_test_file
from tests.workflow.helpers import NODE_DIR, sdk_env

pytestmark = pytest.mark.django_db(transaction=True)

TEST_FILE = NODE_DIR / "workflow.test.mjs"
RUN_TIMEOUT = 600


def run_node_tests(node: str, qstash, pattern: str | None = None,
                   test_file: str = TEST_FILE.name) -> None:
    env = sdk_env(qstash.url, qstash.token, qstash.current_key, qstash.next_key)
    # WORKFLOW_SDK_TEST_PATTERN runs only the cases whose names match (a regular expression).
    pattern = pattern or os.environ.get("WORKFLOW_SDK_TEST_PATTERN")
    returncode, output, elapsed = run_node_test_file(node, NODE_DIR, test_file, env,
                                                     pattern, RUN_TIMEOUT)
    assert returncode == 0, (
        f"the Workflow SDK run failed (exit {returncode}, {elapsed:.1f} s):\n{output}\n"
        f"messages, newest first:\n{_messages_digest(qstash.tenant)}")


def _messages_digest(tenant) -> str:
    """What the server made of the run's messages, to tell a failing run's story."""
    from django_qstash.models import DeliveryAttempt, Message

    lines = []
    for message in Message.objects.filter(tenant=tenant).order_by("-created_at")[:40]:
        attempt = DeliveryAttempt.objects.filter(message=message).order_by("-id").first()
        outcome = (f"{attempt.response_status} {bytes(attempt.response_body)[:300]!r} "
                   f"{attempt.error}" if attempt else "")
        lines.append(f"{message.id} {message.kind} {message.status} {message.url} "
                     f"run={message.workflow_run_id} {outcome}")
    return "\n".join(lines)


def test_workflow_sdk_against_the_live_server(node, qstash):
    run_node_tests(node, qstash)


def test_workflow_sdk_fetches_the_history_when_deliveries_come_without_it(node, qstash,
                                                                          settings):
    # Every step delivery arrives with an empty body: the SDK must fetch the run's history
    # (GET /v2/workflows/runs/{id}) and slice it at the delivered message, for sequential and
    # parallel steps and for the step after a context.call (whose result itself always comes
    # inline: the SDK reads it from element 0 of the delivered body).
    settings.QSTASH = {**settings.QSTASH, "WORKFLOW_INLINE_HISTORY_BYTES": 0}
    run_node_tests(node, qstash, pattern="three context.run|context.call|parallel")
