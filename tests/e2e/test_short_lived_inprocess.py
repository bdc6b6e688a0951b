"""A script or command publishing with the in-process transport sends before it exits."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys

import pytest

from tests.support.stack import ROOT

MESSAGES = 20


@pytest.fixture
def project_env(tmp_path):
    """example_project on a SQLite file of its own, in-process transport, loopback allowed."""
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("QSTASH_", "CELERY_", "DATABASE_URL", "DJANGO_"))}
    database = tmp_path / "short-lived.sqlite3"
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings",
               DATABASE_URL=f"sqlite:///{database}", QSTASH_ALLOW_PRIVATE_DESTINATIONS="true")
    subprocess.run([sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT,
                   env=env, check=True, timeout=120)
    return env, database


def test_a_script_sends_what_it_published_before_exiting(project_env, sink):
    env, database = project_env
    script = (
        "import django; django.setup()\n"
        "from django_qstash import client\n"
        f"for i in range({MESSAGES}):\n"
        # Answered slowly: the process is exiting while its requests are out.
        f"    client.publish({sink.url!r} + f'/sleep/0.3/{{i}}', 'bye', retries=0)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    # Answered before the process was gone, and recorded: not cut off as failed attempts,
    # nothing left claimed for its lease.
    assert len(sink.received()) == MESSAGES
    with sqlite3.connect(database) as db:
        statuses = dict(db.execute("SELECT status, COUNT(*) FROM django_qstash_message "
                                   "GROUP BY status").fetchall())
    assert statuses == {"delivered": MESSAGES}
