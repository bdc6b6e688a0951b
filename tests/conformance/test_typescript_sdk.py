"""The official TypeScript SDK ``@upstash/qstash`` (Node 20) drives our live server.

The Node side lives in ``tests/conformance/ts/`` (SDK version pinned in package.json and
package-lock.json). Node packages are installed with ``npm ci`` when node_modules is missing or
stale. Without node/npm, or when the install fails, the test skips with the reason — except
under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import pytest

from tests.support.node_packages import node_with_packages

pytestmark = pytest.mark.django_db(transaction=True)

TS_DIR = Path(__file__).parent / "ts"
TEST_FILE = TS_DIR / "sdk.test.mjs"
RUN_TIMEOUT = 600


@pytest.fixture(scope="module")
def node() -> str:
    return node_with_packages(TS_DIR, ("@upstash/qstash",), "TypeScript SDK conformance run")


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
