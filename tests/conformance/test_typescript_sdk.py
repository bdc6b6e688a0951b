"""The official TypeScript SDK ``@upstash/qstash`` (Node 20) drives our live server.

The Node side lives in ``tests/conformance/ts/`` (SDK version pinned in package.json and
package-lock.json). Node packages are installed with ``npm ci`` when node_modules is missing or
stale. Without node/npm, or when the install fails, the test skips with the reason — except
under ``CI=true``, where it fails.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.node_packages import node_with_packages, run_node_test_file

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
    # TS_SDK_TEST_PATTERN runs only the tests whose names match (a regular expression).
    returncode, output, elapsed = run_node_test_file(node, TS_DIR, TEST_FILE.name, env,
                                                     os.environ.get("TS_SDK_TEST_PATTERN"),
                                                     RUN_TIMEOUT)
    assert returncode == 0, (
        f"the TypeScript SDK run failed (exit {returncode}, {elapsed:.1f} s):\n{output}")
