"""context.invoke on the wire: the child run starts from the parent's body and hands its
outcome back as the parent's Invoke step."""

from __future__ import annotations

import json
import time

import pytest

from django_qstash.models import WorkflowRun
from tests.e2e.helpers import api
from tests.workflow.helpers import FEATURES, decoded, history, trigger, wait_state

pytestmark = pytest.mark.django_db(transaction=True)

INVOKE_STEP = {"stepId": 2, "stepName": "call child", "stepType": "Invoke", "concurrent": 1}


def invoke(qstash, child_url: str, child_id: str, parent_url: str, parent_id: str,
           depth: int = 1, **extra):
    """What the SDK publishes for context.invoke."""
    parent = WorkflowRun.objects.get(run_id=parent_id)
    parent_step_headers = {
        "Upstash-Workflow-Init": ["false"], "Upstash-Workflow-Runid": [parent_id],
        "Upstash-Workflow-Url": [parent_url], "Upstash-Feature-Set": [FEATURES],
        "Upstash-Workflow-Sdk-Version": ["1"],
        "Upstash-Forward-Upstash-Workflow-Sdk-Version": ["1"],
        "content-type": ["application/json"], "Authorization": [qstash.auth["Authorization"]]}
    body = {"body": '"for the child"', "headers": parent_step_headers,
            "workflowRunId": parent_id,
            "workflowRunCreatedAt": int(parent.created_at.timestamp() * 1000),
            "workflowUrl": parent_url, "step": INVOKE_STEP}
    headers = {"Upstash-Workflow-Init": "true", "Upstash-Workflow-RunId": child_id,
               "Upstash-Workflow-Url": child_url, "Upstash-Feature-Set": FEATURES,
               "Upstash-Workflow-Sdk-Version": "1",
               "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
               "Upstash-Forward-Upstash-Workflow-Invoke-Count": str(depth),
               "Upstash-Workflow-Invoke": "true", "content-type": "application/json", **extra}
    return api(qstash, "POST", f"/v2/publish/{child_url}", content=json.dumps(body),
               headers=headers)


def invoked(qstash, sink, child_path: str = "/child", **extra) -> tuple[str, str]:
    parent_url, child_url = f"{sink.url}/parent", f"{sink.url}{child_path}"
    trigger(qstash, parent_url, "wfr_parent", **{"Upstash-Retries": "2"})
    sink.wait_for(1, "/parent")
    response = invoke(qstash, child_url, "wfr_child", parent_url, "wfr_parent", **extra)
    assert response.status_code == 200, response.text
    return parent_url, child_url


def invoke_result(sink) -> tuple[dict, dict]:
    arrival = sink.wait_for(2, "/parent")[1]
    step = json.loads(decoded(history(arrival)[-1]))
    return arrival, step


def test_the_child_starts_from_the_parents_body_and_returns_its_result(qstash, sink):
    parent_url, _ = invoked(qstash, sink)
    [child] = sink.wait_for(1, "/child")
    assert [decoded(entry) for entry in history(child)] == ['"for the child"']
    assert child.headers["Upstash-Workflow-Invoke-Count"] == "1"
    run = WorkflowRun.objects.get(run_id="wfr_child")
    parent = WorkflowRun.objects.get(run_id="wfr_parent")
    invoker = {"workflowRunId": "wfr_parent", "workflowUrl": parent_url,
               "workflowRunCreatedAt": int(parent.created_at.timestamp() * 1000)}
    assert run.invoker == invoker
    assert "Authorization" not in dict(run.config["invoke"]["headers"])
    [logged] = api(qstash, "GET", "/v2/workflows/logs",
                   params={"workflowRunId": "wfr_child"}).json()["runs"]
    assert logged["invoker"] == invoker

    done = api(qstash, "DELETE", "/v2/workflows/runs/wfr_child?cancel=false", content=b'"done"')
    assert done.status_code == 200
    arrival, step = invoke_result(sink)
    assert step == {**INVOKE_STEP, "out": json.dumps(
        {"body": '"done"', "isFailed": False, "isCanceled": False}, separators=(",", ":"))}
    assert arrival.headers["Upstash-Workflow-Runid"] == "wfr_parent"
    assert arrival.headers["Upstash-Workflow-Sdk-Version"] == "1"
    assert "Authorization" not in arrival.headers
    assert [e["callType"] for e in history(arrival)] == ["step", "step"]
    delivered = WorkflowRun.objects.get(run_id="wfr_parent").steps.get()
    assert delivered.step_type == "Invoke" and delivered.step_name == "call child"
    assert "invoke" not in WorkflowRun.objects.get(run_id="wfr_child").config
    # Reported once: ending it again changes nothing.
    api(qstash, "DELETE", "/v2/workflows/runs/wfr_child?cancel=false", content=b'"again"')
    time.sleep(0.3)
    assert len(sink.received("/parent")) == 2


def test_a_cancelled_child_reports_cancelled_without_a_body(qstash, sink):
    invoked(qstash, sink, **{"Upstash-Delay": "1h"})
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_child?cancel=true").status_code == 200
    _, step = invoke_result(sink)
    assert json.loads(step["out"]) == {"isFailed": False, "isCanceled": True}


def test_a_failed_child_reports_failed(qstash, sink):
    invoked(qstash, sink, "/status/500", **{"Upstash-Retries": "0"})
    wait_state("wfr_child", "RUN_FAILED")
    _, step = invoke_result(sink)
    assert json.loads(step["out"]) == {"isFailed": True, "isCanceled": False}


def test_a_result_too_large_for_the_invokers_step_reports_the_child_failed(qstash, sink,
                                                                          settings):
    # Dropped, it left the invoker waiting for its Invoke step forever.
    settings.QSTASH = {**settings.QSTASH, "MAX_BODY_BYTES": 4096}
    invoked(qstash, sink)
    sink.wait_for(1, "/child")
    result = json.dumps("x" * 4000).encode()
    ended = api(qstash, "DELETE", "/v2/workflows/runs/wfr_child?cancel=false", content=result)
    assert ended.status_code == 200, ended.text
    _, step = invoke_result(sink)
    out = json.loads(step["out"])
    assert (out["isFailed"], out["isCanceled"]) == (True, False)
    assert "wfr_child ended with a result too large" in out["body"]
    assert WorkflowRun.objects.get(run_id="wfr_child").state == "RUN_SUCCESS"


def test_a_child_of_an_ended_parent_ends_quietly(qstash, sink):
    invoked(qstash, sink)
    sink.wait_for(1, "/child")
    api(qstash, "DELETE", "/v2/workflows/runs/wfr_parent?cancel=true")
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_child?cancel=false").status_code == 200
    time.sleep(0.3)
    assert len(sink.received("/parent")) == 1
    assert WorkflowRun.objects.get(run_id="wfr_child").state == "RUN_SUCCESS"


def test_invocations_deeper_than_100_and_malformed_ones_are_refused(qstash, sink):
    parent_url, child_url = f"{sink.url}/parent", f"{sink.url}/child"
    trigger(qstash, parent_url, "wfr_parent")
    too_deep = invoke(qstash, child_url, "wfr_deep", parent_url, "wfr_parent", depth=101)
    assert too_deep.status_code == 400
    assert "exceeds the limit of 100" in too_deep.json()["error"]
    assert invoke(qstash, child_url, "wfr_100", parent_url, "wfr_parent",
                  depth=100).status_code == 200
    malformed = api(qstash, "POST", f"/v2/publish/{child_url}", content=b'{"body": 1}', headers={
        "Upstash-Workflow-Init": "true", "Upstash-Workflow-RunId": "wfr_bad",
        "Upstash-Workflow-Invoke": "true"})
    assert malformed.status_code == 400 and "workflowRunId" in malformed.json()["error"]
    assert not WorkflowRun.objects.filter(run_id__in=["wfr_deep", "wfr_bad"]).exists()
