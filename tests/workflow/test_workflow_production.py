"""The Workflow SDKs on the production stack: granian, Celery workers on Redis, dispatchers on
PostgreSQL. A representative part of the Node SDK harness, the Python SDK cases, the scale runs,
and a Python SDK run whose workers and dispatchers are SIGKILLed mid-run (the test's own
processes only)."""

from __future__ import annotations

import re
import threading
import time
import uuid
from collections import Counter
from contextlib import contextmanager

import psycopg
import pytest

from tests.support import http_client
from tests.support.node_packages import run_node_test_file
from tests.support.services import require_services
from tests.workflow import test_python_sdk as python_cases
from tests.workflow.helpers import NODE_DIR, ended_run, logged_steps, sdk_env, trigger
from tests.workflow.python_sdk import require_python_sdk, start_app
from tests.workflow.scale import scale_runs

pytestmark = pytest.mark.services

# Steps, sleep, call, parallel, failure function, waitForEvent + notify.
NODE_CASES = ("three context.run|context.sleep|context.call|parallel|failing step"
              "|waitForEvent resumes")
NODE_CASE_COUNT = 6


@pytest.fixture(scope="module")
def stack():
    require_services()
    from tests.support.stack import drop_stack, start_stack

    # Every step delivery goes through the Celery workers, whose SIGKILL mid-step the last
    # test is about (web processes sending their own due-now messages: tests/services).
    stack = start_stack(workers=2, dispatchers=2, env={"QSTASH_LOCAL_DELIVERY_LIMIT": "0"})
    yield stack
    drop_stack(stack)


def stack_env(stack) -> dict:
    keys = http_client.get(f"{stack.url}/v2/keys", headers=stack.auth, timeout=30).json()
    return sdk_env(stack.url, stack.token, keys["current"], keys["next"])


@contextmanager
def stack_cursor(stack):
    dsn = stack.env["DATABASE_URL"].replace("postgres://", "postgresql://", 1)
    with psycopg.connect(dsn) as conn, conn.cursor() as cursor:
        yield cursor


def test_node_sdk_runs_its_workflows_on_the_production_stack(node, stack):
    returncode, output, elapsed = run_node_test_file(
        node, NODE_DIR, "workflow.test.mjs", stack_env(stack), NODE_CASES, 600)
    assert returncode == 0, f"the Workflow SDK run failed (exit {returncode}, {elapsed:.1f} s):\n{output}"
    assert re.search(rf"\bpass {NODE_CASE_COUNT}\b", output), output


@pytest.fixture
def python_app(stack):
    require_python_sdk()
    app = start_app(stack)
    python_cases.serve_workflows(app)
    yield app
    app.close()


@pytest.mark.parametrize("case", [
    python_cases.test_steps_run_once_each_in_order_with_the_payload_and_headers,
    python_cases.test_sleep_and_sleep_until_hold_the_next_step_back,
    python_cases.test_call_reaches_the_third_party_and_its_response_comes_back,
    python_cases.test_a_failing_step_fails_the_run_and_the_failure_function_gets_the_error,
], ids=["steps", "sleep", "call", "failure"])
def test_python_sdk_runs_its_workflows_on_the_production_stack(stack, python_app, case):
    case(stack, python_app)


def test_sequential_and_fan_out_runs_complete_on_the_production_stack(node, stack):
    runs = scale_runs(node, stack_env(stack), lambda: stack_cursor(stack), "the production stack")
    for run in runs:
        assert run["stored"].steps >= run["steps"], run


STEPS = 8
HELD = 3  # the step whose delivery is in flight when every worker is killed
# A step message's timeout: with the stack's 2 s lease grace and 5 s pickup allowance, a
# delivery lost with its worker goes out again within about 10 s.
STEP_TIMEOUT = "3s"
# Long enough that the lost delivery of step HELD comes back while the run sleeps: the repeat
# lands in a run that is still going, where a second copy of the step would fork it.
NAP_SECONDS = 20


def test_sigkilled_worker_and_dispatchers_mid_run(stack):
    """Every worker dies while the app runs step HELD, then both dispatchers; replacements
    start. At-least-once bound: a sequential run has one delivery in flight at a time, so only
    step HELD may run twice (its delivery went unanswered: the server must send it again),
    every other step runs once; a dispatcher holds no delivery, so killing it repeats nothing.
    The run completes and its log lists every step once."""
    require_python_sdk()
    app = start_app(stack)
    in_held_step, released = threading.Event(), threading.Event()

    @app.workflow("/wf/effects")
    def effects(context):
        run_id = context.workflow_run_id
        for number in range(1, STEPS + 1):
            def effect(number=number):
                app.record(run_id, "effect", step=number)
                if number == HELD and not in_held_step.is_set():
                    in_held_step.set()
                    released.wait(60)  # the test kills the worker waiting on this answer
                return number
            context.run(f"s{number}", effect)
            if number == HELD + 2:
                context.sleep("nap", NAP_SECONDS)

    run_id = f"wfr_kill-{uuid.uuid4().hex}"
    try:
        trigger(stack, f"{app.url}/wf/effects", run_id, body="{}",
                **{"Upstash-Timeout": STEP_TIMEOUT})
        assert in_held_step.wait(60), "step HELD never ran"
        for name in [n for n in list(stack.processes) if n.startswith("worker")]:
            stack.kill(name)
        for name in [n for n in list(stack.processes) if n.startswith("dispatcher")]:
            stack.kill(name)
        stack.start_worker("worker-after-kill")
        time.sleep(1)  # no dispatcher at all for a moment
        stack.start_dispatcher("dispatcher-after-kill")
        released.set()
        run = ended_run(stack, timeout=NAP_SECONDS + 90, workflowRunId=run_id)
    finally:
        released.set()
        app.close()

    assert run["workflowState"] == "RUN_SUCCESS", run
    effects_seen = app.of(run_id, "effect")
    counts = Counter(effect["step"] for effect in effects_seen)
    assert counts == {**{n: 1 for n in range(1, STEPS + 1)}, HELD: 2}, counts
    repeat_at = [e["at"] for e in effects_seen if e["step"] == HELD][1]
    after_nap_at = next(e["at"] for e in effects_seen if e["step"] == HELD + 3)
    assert repeat_at < after_nap_at, "the lost delivery came back only after the run went on"
    names = [step["stepName"] for step in logged_steps(run)]
    expected = ["init", *[f"s{n}" for n in range(1, HELD + 3)], "nap",
                *[f"s{n}" for n in range(HELD + 3, STEPS + 1)]]
    assert names == expected, names
