"""The official Workflow SDK ``@upstash/workflow`` (Node 20) runs its workflows on our live server.

The Node side lives in ``tests/workflow/node/`` (SDK versions pinned in package.json and
package-lock.json): an ``http`` server on loopback serving workflows with the SDK's ``serve``,
and ``node --test`` cases that trigger them and read the runs back through the SDK's Client.
Node packages are installed with ``npm ci`` when node_modules is missing or stale. Without
node/npm, or when the install fails, the test skips with the reason — except under
``CI=true``, where it fails.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.django_db(transaction=True)

NODE_DIR = Path(__file__).parent / "node"
TEST_FILE = NODE_DIR / "workflow.test.mjs"
PINNED = ("@upstash/workflow", "@upstash/qstash")
MIN_NODE_MAJOR = 20
INSTALL_TIMEOUT = 300
RUN_TIMEOUT = 600


def _unavailable(reason: str):
    """Fail under CI=true, elsewhere skip loudly."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the Workflow SDK run cannot start: {reason}")
    print(f"\n!!! SKIPPED the Workflow SDK run: {reason} !!!", file=sys.stderr)
    pytest.skip(f"Workflow SDK run not possible: {reason}")


def _versions(manifest_of) -> dict[str, str | None]:
    versions = {}
    for package in PINNED:
        try:
            versions[package] = manifest_of(package)
        except (OSError, ValueError, KeyError):
            versions[package] = None
    return versions


def _pinned() -> dict[str, str | None]:
    dependencies = json.loads((NODE_DIR / "package.json").read_text())["dependencies"]
    return _versions(lambda package: dependencies[package])


def _installed() -> dict[str, str | None]:
    return _versions(lambda package: json.loads(
        (NODE_DIR / "node_modules" / package / "package.json").read_text())["version"])


@pytest.fixture(scope="module")
def node() -> str:
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        _unavailable(f"node and npm must be on PATH (node={node}, npm={npm})")
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        _unavailable(f"Node {MIN_NODE_MAJOR}+ is needed, found {version or 'nothing'}")
    if _installed() != _pinned():
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                                  capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            _unavailable(f"`npm ci` did not finish in {INSTALL_TIMEOUT} s")
        if done.returncode != 0 or _installed() != _pinned():
            _unavailable(f"`npm ci` in {NODE_DIR} failed (exit {done.returncode}):\n"
                         f"{done.stdout}\n{done.stderr}")
    return node


def run_node_tests(node: str, qstash, pattern: str | None = None) -> None:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QSTASH_", "UPSTASH_")) and not k.endswith("_QSTASH_URL")}
    env.update({
        "QSTASH_URL": qstash.url,
        "QSTASH_TOKEN": qstash.token,
        "QSTASH_CURRENT_SIGNING_KEY": qstash.current_key,
        "QSTASH_NEXT_SIGNING_KEY": qstash.next_key,
        "NO_COLOR": "1",
    })
    # WORKFLOW_SDK_TEST_PATTERN runs only the cases whose names match (a regular expression).
    pattern = pattern or os.environ.get("WORKFLOW_SDK_TEST_PATTERN")
    selection = [f"--test-name-pattern={pattern}"] if pattern else []
    started = time.monotonic()
    try:
        done = subprocess.run([node, "--test", "--test-reporter=spec", *selection,
                               TEST_FILE.name],
                              cwd=NODE_DIR, env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`node --test` did not finish in {RUN_TIMEOUT} s:\n"
                    f"{exc.stdout or ''}\n{exc.stderr or ''}")
    elapsed = time.monotonic() - started
    output = f"{done.stdout}\n{done.stderr}".strip()
    print(f"\nnode --test ({elapsed:.1f} s):\n{output}")
    assert done.returncode == 0, (
        f"the Workflow SDK run failed (exit {done.returncode}, {elapsed:.1f} s):\n{output}\n"
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
