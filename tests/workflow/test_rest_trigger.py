"""POST /v2/trigger/{url} and /v2/batch/trigger: runs started without the SDK, handed over
to it by Upstash-Workflow-Unknown-Sdk."""

from __future__ import annotations

import json
import time

import pytest

from django_qstash.models import Message, UrlGroup, WorkflowRun
from tests.e2e.helpers import api
from tests.workflow.helpers import FEATURES, decoded, history, wait_state

pytestmark = pytest.mark.django_db(transaction=True)


def rest_trigger(qstash, url: str, body: bytes = b'{"order":1}', **headers):
    return api(qstash, "POST", f"/v2/trigger/{url}", content=body, headers=headers)


def sdk_takes_over(qstash, url: str, run_id: str) -> dict:
    """What the SDK sends on a delivery with Upstash-Workflow-Unknown-Sdk: its own trigger
    of the run, the user's headers forwarded again, none of the trigger's settings."""
    headers = {"Upstash-Workflow-Init": "true", "Upstash-Workflow-RunId": run_id,
               "Upstash-Workflow-Url": url, "Upstash-Feature-Set": FEATURES,
               "Upstash-Workflow-Sdk-Version": "1",
               "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
               "Upstash-Forward-X-Customer": "c1", "content-type": "application/json",
               "upstash-workflow-trigger-by-sdk": "true"}
    response = api(qstash, "POST", "/v2/batch", json=[
        {"destination": url, "headers": headers, "body": '{"order":1}'}])
    assert response.status_code == 200, response.text
    return response.json()[0]


def test_the_first_delivery_asks_the_sdk_to_take_the_run_over(qstash, sink):
    url = f"{sink.url}/wf"
    response = rest_trigger(qstash, url, **{
        "Upstash-Forward-X-Customer": "c1", "Upstash-Retries": "0", "Upstash-Label": "rest",
        "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    result = response.json()
    run = WorkflowRun.objects.get(run_id=result["workflowRunId"])
    assert result == {"workflowRunId": run.run_id,
                      "workflowCreatedAt": int(run.created_at.timestamp() * 1000)}
    assert run.run_id.startswith("wfr_") and run.labels == ["rest"]
    [first] = sink.wait_for(1)
    assert first.headers["Upstash-Workflow-Unknown-Sdk"] == "true"
    assert first.headers["Upstash-Workflow-Runid"] == run.run_id
    assert first.headers["X-Customer"] == "c1"
    assert [decoded(entry) for entry in history(first)] == ['{"order":1}']

    assert sdk_takes_over(qstash, url, run.run_id)["deduplicated"] is False
    second = sink.wait_for(2)[1]
    assert "Upstash-Workflow-Unknown-Sdk" not in second.headers
    assert second.headers["Upstash-Workflow-Runid"] == run.run_id
    assert second.headers["X-Customer"] == "c1"
    assert [decoded(entry) for entry in history(second)] == ['{"order":1}']
    handed_over = Message.objects.get(pk=second.headers["Upstash-Message-Id"])
    # The REST trigger's settings stay.
    assert (handed_over.max_retries, handed_over.failure_callback) == (0, url)
    assert handed_over.failure_callback_headers["Upstash-Workflow-Is-Failure"] == ["true"]
    # Once taken over, a further SDK trigger is an ordinary duplicate.
    assert sdk_takes_over(qstash, url, run.run_id)["deduplicated"] is True


def test_a_run_id_may_be_given_and_triggering_it_again_is_deduplicated(qstash, sink):
    url = f"{sink.url}/wf"
    first = rest_trigger(qstash, url, **{"Upstash-Workflow-RunId": "wfr_mine"}).json()
    assert first["workflowRunId"] == "wfr_mine"
    again = rest_trigger(qstash, url, **{"Upstash-Workflow-RunId": "wfr_mine"}).json()
    assert again == {**first, "deduplicated": True}
    sink.wait_for(1)
    time.sleep(0.3)
    assert len(sink.received()) == 1


def test_a_failing_run_reaches_the_workflows_failure_function(qstash, sink):
    url = f"{sink.url}/status/500"
    result = rest_trigger(qstash, url, **{"Upstash-Retries": "0"}).json()
    failure = sink.wait_for(2)[1]
    assert failure.path == "/status/500"
    assert failure.headers["Upstash-Workflow-Is-Failure"] == "true"
    assert failure.headers["Upstash-Workflow-Failure-Callback"] == "true"
    assert json.loads(failure.body)["workflowRunId"] == result["workflowRunId"]
    wait_state(result["workflowRunId"], "RUN_FAILED")


def test_an_endpoint_without_the_sdk_fails_the_run_with_the_reason(qstash, plain_sink):
    result = rest_trigger(qstash, f"{plain_sink.url}/plain").json()
    plain_sink.wait_for(1)
    run = wait_state(result["workflowRunId"], "RUN_FAILED")
    reason = "trigger rest api is only usable with sdk versions after v1.0.0 major version"
    assert run.error == reason
    [logged] = api(qstash, "GET", "/v2/workflows/logs",
                   params={"workflowRunId": run.run_id}).json()["runs"]
    assert [group["type"] for group in logged["steps"]] == ["sequential", "next"]
    assert logged["steps"][1]["steps"][0]["errors"][0]["error"] == reason


def test_batch_trigger_starts_each_run_and_refuses_bad_items_alone(qstash, sink):
    items = [{"destination": f"{sink.url}/a", "body": "one",
              "headers": {"Upstash-Workflow-RunId": "wfr_a", "Upstash-Forward-X-N": "1"}},
             {"destination": "", "body": "none"},
             {"destination": f"{sink.url}/b", "body": {"as": "json"}}]
    response = api(qstash, "POST", "/v2/batch/trigger", json=items)
    assert response.status_code == 201, response.text
    first, bad, second = response.json()
    assert first["workflowRunId"] == "wfr_a" and first["deduplicated"] is False
    assert "destination" in bad["error"]
    assert second["workflowRunId"].startswith("wfr_")
    arrivals = {arrival.path: arrival for arrival in sink.wait_for(2)}
    assert decoded(history(arrivals["/a"])[0]) == "one"
    assert arrivals["/a"].headers["X-N"] == "1"
    assert decoded(history(arrivals["/b"])[0]) == '{"as":"json"}'


def test_bad_trigger_requests_are_refused_with_a_reason(qstash, sink):
    UrlGroup.objects.create(tenant=qstash.tenant, name="group")
    refusals = [
        api(qstash, "POST", "/v2/trigger/group", content=b"x"),
        api(qstash, "POST", "/v2/trigger/not-a-url", content=b"x"),
        api(qstash, "POST", f"/v2/trigger/{sink.url}/wf", headers={"Upstash-Retries": "many"}),
        api(qstash, "POST", "/v2/batch/trigger", content=b"{not json"),
        api(qstash, "POST", "/v2/batch/trigger", json={"destination": sink.url}),
    ]
    for response in refusals:
        assert 400 <= response.status_code < 500, response.text
        assert response.json()["error"]
    unauthenticated = api(qstash, "POST", f"/v2/trigger/{sink.url}/wf",
                          headers={"Authorization": "Bearer nope"})
    assert unauthenticated.status_code == 401
    assert not WorkflowRun.objects.exists()
