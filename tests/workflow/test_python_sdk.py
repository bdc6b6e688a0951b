"""The Python Workflow SDK ``upstash-workflow`` 2.0 runs its workflows on our live server.

Its workflows are served on loopback by tests/workflow/python_app.py; each run starts the way
the Python SDK starts one, with a plain message to the endpoint. Version 2.0 has context.run,
sleep, sleep_until, call and failure functions; no parallel steps, waitForEvent, notify or
client. Without the package the tests skip loudly; under ``CI=true`` they fail.
"""

from __future__ import annotations

import json
import time
import uuid

import pytest

from tests.workflow.helpers import ended_run, logged_steps
from tests.workflow.python_sdk import require_python_sdk, start_app, start_run

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def app(qstash):
    require_python_sdk()
    app = start_app(qstash)
    serve_workflows(app)
    yield app
    app.close()


def serve_workflows(app) -> None:
    @app.workflow("/wf/steps")
    def steps(context):
        run_id = context.workflow_run_id
        app.record(run_id, "invocation", payload=context.request_payload,
                   headers={name.lower(): value for name, value in context.headers.items()})
        word = context.request_payload["word"]

        def first():
            app.record(run_id, "step", name="first", input=context.request_payload)
            return f"{word}-1"
        a = context.run("first", first)

        def second():
            app.record(run_id, "step", name="second", input=a)
            return {"from": a, "n": 2}
        b = context.run("second", second)

        def third():
            app.record(run_id, "step", name="third", input=b)
            return [b["n"], len(b["from"])]
        context.run("third", third)

    @app.workflow("/wf/sleep")
    def sleeps(context):
        run_id = context.workflow_run_id
        context.run("before", lambda: app.record(run_id, "step", name="before"))
        context.sleep("nap", 2)

        def after_nap():
            app.record(run_id, "step", name="after-nap")
            return time.time() + 2  # chosen once, inside a step, so every replay agrees
        wake_at = context.run("after-nap", after_nap)
        context.sleep_until("until", wake_at)
        context.run("after-until", lambda: app.record(run_id, "step", name="after-until",
                                                      wake_at=wake_at))

    @app.workflow("/wf/call")
    def calls(context):
        run_id = context.workflow_run_id
        # Read inside a step: on the delivery that brings the call's result, the SDK's dry run
        # of this function sees that result as request_payload (element 0 of the body).
        question = context.run("question", lambda: context.request_payload["question"])
        response = context.call(
            "ask", url=f"{app.url}/third-party?q=1", method="POST", body={"question": question},
            headers={"X-Call-Header": "call-value", "Content-Type": "application/json"})

        def check():
            app.record(run_id, "step", name="check", status=response.status,
                       body=response.body, header=response.header)
            return response.body["answer"]
        context.run("check", check)

    def on_failure(context, fail_status, fail_response, fail_headers):
        app.record(context.workflow_run_id, "failure", status=fail_status,
                   response=fail_response, payload=context.request_payload)

    @app.workflow("/wf/fail", retries=0, failure_function=on_failure)
    def fails(context):
        run_id = context.workflow_run_id
        context.run("fine", lambda: "fine")

        def breaks():
            app.record(run_id, "step", name="breaks")
            raise RuntimeError("step broke on purpose")
        context.run("breaks", breaks)


def started(qstash, app, path: str, body: dict, **headers: str) -> str:
    """Start a run at a URL of its own; its workflow URL as the server knows it."""
    url = f"{app.url}{path}?case={uuid.uuid4().hex}"
    start_run(qstash, url, body, **headers)
    return url


def test_steps_run_once_each_in_order_with_the_payload_and_headers(qstash, app):
    url = started(qstash, app, "/wf/steps", {"word": "hello"},
                  **{"Upstash-Forward-X-Trigger": "yes"})
    run = ended_run(qstash, workflowUrl=url)
    assert run["workflowState"] == "RUN_SUCCESS", run
    assert run["workflowRunId"].startswith("wfr_")
    assert run["workflowRunCompletedAt"] >= run["workflowRunCreatedAt"]
    steps = logged_steps(run)
    assert [s["stepName"] for s in steps] == ["init", "first", "second", "third"]
    assert {s["state"] for s in steps} == {"STEP_SUCCESS"}
    assert [s["out"] for s in steps[1:]] == [json.dumps("hello-1"),
                                             json.dumps({"from": "hello-1", "n": 2}),
                                             json.dumps([2, 7])]

    run_id = run["workflowRunId"]
    ran = app.of(run_id, "step")
    assert [s["name"] for s in ran] == ["first", "second", "third"]
    assert ran[0]["input"] == {"word": "hello"}
    assert ran[1]["input"] == "hello-1"
    assert ran[2]["input"] == {"from": "hello-1", "n": 2}
    # Every invocation (the SDK calls the route function twice per delivery, once to check
    # it is authorised) had the initial payload and the header given to the first request.
    invocations = app.of(run_id, "invocation")
    assert len(invocations) >= 2 * 4, len(invocations)
    assert all(call["payload"] == {"word": "hello"} for call in invocations)
    assert all(call["headers"].get("x-trigger") == "yes" for call in invocations), invocations


def test_sleep_and_sleep_until_hold_the_next_step_back(qstash, app):
    url = started(qstash, app, "/wf/sleep", {})
    run = ended_run(qstash, workflowUrl=url)
    assert run["workflowState"] == "RUN_SUCCESS", run
    before, after_nap, after_until = app.of(run["workflowRunId"], "step")
    assert [before["name"], after_nap["name"], after_until["name"]] == [
        "before", "after-nap", "after-until"]
    assert after_nap["at"] - before["at"] >= 2, after_nap["at"] - before["at"]
    # sleep_until rounds the moment to the second it is sent as (Upstash-Not-Before).
    assert after_until["at"] >= round(after_until["wake_at"]), after_until
    by_name = {s["stepName"]: s for s in logged_steps(run)}
    assert (by_name["nap"]["stepType"], by_name["nap"]["sleepFor"]) == ("SleepFor", 2)
    assert by_name["until"]["stepType"] == "SleepUntil"
    assert by_name["until"]["sleepUntil"] == round(after_until["wake_at"])


def test_call_reaches_the_third_party_and_its_response_comes_back(qstash, app):
    url = started(qstash, app, "/wf/call", {"question": "why"})
    run = ended_run(qstash, workflowUrl=url)
    assert run["workflowState"] == "RUN_SUCCESS", run
    [call] = [c for c in app.third_party if '"why"' in c["body"]]
    assert (call["method"], call["path"]) == ("POST", "/third-party?q=1")
    assert call["headers"]["x-call-header"] == "call-value"
    assert json.loads(call["body"]) == {"question": "why"}
    [check] = app.of(run["workflowRunId"], "step")
    assert (check["status"], check["body"]) == (201, {"answer": "re: why"})
    header = {name.lower(): values for name, values in check["header"].items()}
    assert header["x-answered-by"] == ["third-party"]
    ask = next(s for s in logged_steps(run) if s["stepName"] == "ask")
    assert ask["stepType"] == "Call"
    assert (ask["callUrl"], ask["callMethod"]) == (f"{app.url}/third-party?q=1", "POST")
    assert ask["callResponseStatus"] == 201
    assert ask["callResponseBody"] == {"answer": "re: why"}
    checked = next(s for s in logged_steps(run) if s["stepName"] == "check")
    assert checked["out"] == json.dumps("re: why")


def test_a_failing_step_fails_the_run_and_the_failure_function_gets_the_error(qstash, app):
    url = started(qstash, app, "/wf/fail", {"order": 7})
    run = ended_run(qstash, workflowUrl=url)
    assert run["workflowState"] == "RUN_FAILED", run
    assert run["dlqId"]
    run_id = run["workflowRunId"]
    deadline = time.monotonic() + 30
    while not app.of(run_id, "failure") and time.monotonic() < deadline:
        time.sleep(0.1)
    [failure] = app.of(run_id, "failure")
    assert failure["status"] == 500
    assert failure["response"] == "step broke on purpose"
    assert failure["payload"] == {"order": 7}
    assert len(app.of(run_id, "step")) == 1  # retries=0: the step ran once
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        run = ended_run(qstash, workflowRunId=run_id)
        if (run.get("failureFunction") or {}).get("state") == "CALLBACK_SUCCESS":
            break
        time.sleep(0.1)
    assert run["failureFunction"]["state"] == "CALLBACK_SUCCESS", run
    assert run["failureFunction"]["failStatus"] == 500
    [next_step] = [g for g in run["steps"] if g["type"] == "next"]
    assert next_step["steps"][0]["state"] == "STEP_FAILED"
