"""Django's task API on the production stack: granian runs the tasks, Celery delivers them."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.support.services import require_services
from tests.support.stack import ROOT

pytestmark = pytest.mark.services

ENQUEUE = """
import datetime, json, django
django.setup()
from django.utils import timezone
from tests.tasks_backend import tasks
later = timezone.now() + datetime.timedelta(seconds=2)
print(json.dumps({
    "ok": tasks.add.enqueue(2, 3).id,
    "bad": tasks.fail.enqueue("boom").id,
    "later": tasks.shout.using(run_after=later).enqueue("x").id,
    "async": tasks.double_later.enqueue(4).id,
    "context": tasks.succeed_on_attempt.enqueue(2).id,
    "outer": tasks.enqueue_inside_rolled_back_transaction.enqueue().id,
    "run_after": later.isoformat(),
}))
"""

READ = """
import json, sys, django
django.setup()
from django_tasks import default_task_backend
from django_tasks.exceptions import TaskResultDoesNotExist
out = {}
for name, result_id in json.loads(sys.argv[1]).items():
    try:
        r = default_task_backend.get_result(result_id)
    except TaskResultDoesNotExist:
        out[name] = None
        continue
    out[name] = {"status": r.status, "attempts": r.attempts,
                 "value": r.return_value if r.status == "SUCCESSFUL" else None,
                 "errors": [e.exception_class_path for e in r.errors],
                 "started_at": r.started_at.isoformat() if r.started_at else None}
print(json.dumps(out))
"""


@pytest.fixture(scope="module")
def stack():
    require_services()
    from tests.support.stack import drop_stack, start_stack

    stack = start_stack(workers=1, dispatchers=1, env={
        "QSTASH_TASKS_QUEUES": "default,emails", "QSTASH_TASKS_RETRIES": "2",
        "QSTASH_TASKS_RETRY_DELAY": "100"})
    yield stack
    drop_stack(stack)


def python(stack, script: str, *args: str) -> dict:
    result = subprocess.run([sys.executable, "-c", script, *args], cwd=ROOT, env=stack.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def test_tasks_run_through_celery_with_results_retries_and_dlq(stack):
    from tests.support import http_client

    # The enqueuing process has the stack's settings, as any of the site's processes would.
    enqueued = python(stack, ENQUEUE)
    run_after = enqueued.pop("run_after")
    deadline = time.monotonic() + 90
    while True:
        results = python(stack, READ, json.dumps(enqueued))
        done = [r for r in results.values() if r and r["status"] in ("SUCCESSFUL", "FAILED")]
        if len(done) == len(enqueued) or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    assert results["ok"]["value"] == 5 and results["ok"]["status"] == "SUCCESSFUL"
    assert results["async"]["value"] == 8
    assert results["later"]["value"] == "X" and results["later"]["started_at"] >= run_after
    assert results["context"]["value"]["attempt"] == 2
    assert results["bad"]["status"] == "FAILED"
    assert results["bad"]["attempts"] == 3  # QSTASH_TASKS_RETRIES=2 in the stack's environment
    assert results["bad"]["errors"] == ["builtins.ValueError"] * 3
    # The task enqueued inside a rolled-back transaction left no result behind.
    inner = results["outer"]["value"]
    assert python(stack, READ, json.dumps({"inner": inner})) == {"inner": None}
    dlq = http_client.get(f"{stack.url}/v2/dlq", headers=stack.auth, timeout=10).json()["messages"]
    assert [m["responseStatus"] for m in dlq
            if m["url"].endswith("/qstash/tasks/default")] == [500]
