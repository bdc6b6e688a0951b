"""The official TypeScript SDK ``@upstash/qstash`` (Node 20) drives our live server.

The Node side lives in ``tests/conformance/ts/`` (SDK version pinned in package.json and
package-lock.json). Node packages are installed with ``npm ci`` when node_modules is missing or
stale. Without node/npm, or when the install fails, the test skips with the reason — except
under ``CI=true``, where it fails.
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

TS_DIR = Path(__file__).parent / "ts"
TEST_FILE = TS_DIR / "sdk.test.mjs"
MIN_NODE_MAJOR = 20
INSTALL_TIMEOUT = 300
RUN_TIMEOUT = 600


def _unavailable(reason: str):
    """Fail under CI=true, elsewhere skip loudly."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the TypeScript SDK run cannot start: {reason}")
    print(f"\n!!! SKIPPED the TypeScript SDK conformance run: {reason} !!!", file=sys.stderr)
    pytest.skip(f"TypeScript SDK conformance run not possible: {reason}")


def _pinned_version() -> str:
    return json.loads((TS_DIR / "package.json").read_text())["dependencies"]["@upstash/qstash"]


def _installed_version() -> str | None:
    manifest = TS_DIR / "node_modules" / "@upstash" / "qstash" / "package.json"
    try:
        return json.loads(manifest.read_text())["version"]
    except (OSError, ValueError, KeyError):
        return None


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
    if _installed_version() != _pinned_version():
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=TS_DIR,
                                  capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            _unavailable(f"`npm ci` did not finish in {INSTALL_TIMEOUT} s")
        if done.returncode != 0 or _installed_version() != _pinned_version():
            _unavailable(f"`npm ci` in {TS_DIR} failed (exit {done.returncode}):\n"
                         f"{done.stdout}\n{done.stderr}")
    return node


def test_typescript_sdk_against_the_live_server(node, qstash, sink):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QSTASH_", "UPSTASH_")) and not k.endswith("_QSTASH_URL")}
    env.update({
        "QSTASH_URL": qstash.url,
        "QSTASH_TOKEN": qstash.token,
        "QSTASH_CURRENT_SIGNING_KEY": qstash.current_key,
        "QSTASH_NEXT_SIGNING_KEY": qstash.next_key,
        "SINK_URL": sink.url,
        "NO_COLOR": "1",
    })
    started = time.monotonic()
    try:
        # TS_SDK_TEST_PATTERN runs only the tests whose names match (a regular expression).
        pattern = os.environ.get("TS_SDK_TEST_PATTERN")
        selection = [f"--test-name-pattern={pattern}"] if pattern else []
        done = subprocess.run([node, "--test", "--test-reporter=spec", *selection,
                               TEST_FILE.name],
                              cwd=TS_DIR, env=env, capture_output=True, text=True,
                              timeout=RUN_TIMEOUT, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`node --test` did not finish in {RUN_TIMEOUT} s:\n"
                    f"{exc.stdout or ''}\n{exc.stderr or ''}")
    elapsed = time.monotonic() - started
    output = f"{done.stdout}\n{done.stderr}".strip()
    print(f"\nnode --test ({elapsed:.1f} s):\n{output}")
    assert done.returncode == 0, (
        f"the TypeScript SDK run failed (exit {done.returncode}, {elapsed:.1f} s):\n{output}")
