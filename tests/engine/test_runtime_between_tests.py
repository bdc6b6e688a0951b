"""The pytest plugin stops a runtime a test started on first use: no delivery thread outlives
its test, to write into the next test's database or into one being flushed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[2]

USER_TESTS = '''
import threading

import pytest

from django_qstash.delivery.runtime import current
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message


@pytest.mark.django_db(transaction=True)
def test_publishes_a_due_now_message_without_the_runtime_fixture():
    tenant = create_tenant("first-use")
    # Nothing listens on port 9 of loopback: the attempt fails at once and is recorded.
    publish_specs(tenant, [prepare(tenant, "http://127.0.0.1:9/", b"x", [])])
    assert current().running


@pytest.mark.django_db(transaction=True)
def test_the_next_test_starts_with_no_delivery_thread():
    alive = [thread.name for thread in threading.enumerate() if thread.name.startswith("qstash-")]
    assert (current().running, alive) == (False, [])
    assert not Message.objects.exists()
'''


def test_a_runtime_started_on_first_use_ends_with_its_test(tmp_path):
    (tmp_path / "test_user_suite.py").write_text(USER_TESTS)
    env = {**os.environ, "PYTHONPATH": str(PROJECT_ROOT), "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env.pop("QSTASH_TEST_DATABASE_URL", None)  # SQLite: a file of the inner run's own
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
         str(tmp_path), str(tmp_path / "test_user_suite.py")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "2 passed" in result.stdout
