"""The Workflow protocol as the SDKs speak it, over HTTP against the live server."""

from __future__ import annotations

import base64
import json
import time

import pytest

from django_qstash.models import ApiToken, Message, WorkflowRun, WorkflowStep
from tests.e2e.helpers import api
from tests.workflow.helpers import FEATURES, decoded, history, trigger, wait_state

pytestmark = pytest.mark.django_db(transaction=True)


def step(qstash, url: str, run_id: str, step_id: int, name: str, out, **extra):
    headers = {"Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id,
               "Upstash-Workflow-Url": url, "Upstash-Feature-Set": FEATURES,
               "Upstash-Workflow-Sdk-Version": "1",
               "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
               "content-type": "application/json", **extra}
    body = json.dumps({"stepId": step_id, "stepName": name, "stepType": "Run",
                       "out": json.dumps(out), "concurrent": 1})
    return api(qstash, "POST", "/v2/batch",
               json=[{"destination": url, "headers": headers, "body": body}])


def test_trigger_creates_the_run_and_delivers_its_initial_body(qstash, sink):
    url = f"{sink.url}/wf"
    result = trigger(qstash, url, "wfr_one", **{"Upstash-Label": "nightly"})
    assert result["deduplicated"] is False
    [arrival] = sink.wait_for(1)
    run = WorkflowRun.objects.get(run_id="wfr_one")
    assert (run.state, run.url, bytes(run.initial_body), run.labels) == (
        "RUN_STARTED", url, b'{"x":1}', ["nightly"])
    assert run.init_message_id == result["messageId"]
    [initial] = history(arrival)
    assert initial == {"messageId": result["messageId"], "callType": "step",
                       "body": base64.b64encode(b'{"x":1}').decode()}
    assert arrival.headers["Upstash-Workflow-Runid"] == "wfr_one"
    assert arrival.headers["Upstash-Workflow-Createdat"] == str(
        int(run.created_at.timestamp() * 1000))
    assert arrival.headers["Upstash-Workflow-Sdk-Version"] == "1"
    assert arrival.headers["X-User"] == "u"
    assert arrival.headers["Upstash-Message-Id"] == result["messageId"]


def test_a_second_trigger_with_the_same_run_id_is_deduplicated(qstash, sink):
    url = f"{sink.url}/wf"
    first = trigger(qstash, url, "wfr_twice")
    again = trigger(qstash, url, "wfr_twice", body='{"x":2}')
    assert again == {"messageId": first["messageId"], "url": url, "deduplicated": True}
    sink.wait_for(1)
    time.sleep(0.3)
    assert len(sink.received()) == 1
    assert bytes(WorkflowRun.objects.get(run_id="wfr_twice").initial_body) == b'{"x":1}'


def test_appended_steps_carry_the_history_and_the_trigger_config(qstash, sink):
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_steps", **{"Upstash-Retries": "1", "Upstash-Retry-Delay": "50"})
    sink.wait_for(1)
    assert step(qstash, url, "wfr_steps", 1, "first", "a").status_code == 200
    assert step(qstash, url, "wfr_steps", 2, "second", {"b": 2}).status_code == 200
    arrivals = sink.wait_for(3)
    entries = history(arrivals[2])
    assert [e["callType"] for e in entries] == ["step"] * 3
    assert [json.loads(decoded(e)).get("stepName") for e in entries[1:]] == ["first", "second"]
    assert entries[2]["messageId"] == arrivals[2].headers["Upstash-Message-Id"]
    assert len(history(arrivals[1])) == 2  # up to and including the message delivered
    # WF_TriggerOnConfig: the trigger's retries, failure callback and headers apply.
    message = Message.objects.get(pk=entries[2]["messageId"])
    assert (message.max_retries, message.retry_delay_expression) == (1, "50")
    assert message.failure_callback == url
    assert message.workflow_run_id == "wfr_steps"
    assert arrivals[2].headers["X-User"] == "u"


def test_appending_to_a_finished_or_unknown_run_is_a_400(qstash, sink):
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_done")
    finished = api(qstash, "DELETE", "/v2/workflows/runs/wfr_done?cancel=false",
                   content=b'"the result"')
    assert finished.status_code == 200, finished.text
    run = WorkflowRun.objects.get(run_id="wfr_done")
    assert (run.state, run.result) == ("RUN_SUCCESS", '"the result"')
    late = step(qstash, url, "wfr_done", 1, "late", 1)
    assert late.status_code == 400 and "finished" in late.json()["error"]
    unknown = step(qstash, url, "wfr_nobody", 1, "late", 1)
    assert unknown.status_code == 400 and "does not exist" in unknown.json()["error"]
    # Reported twice (a step delivered twice): nothing changes.
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_done?cancel=false").status_code == 200
    assert WorkflowRun.objects.get(run_id="wfr_done").result == '"the result"'


def test_a_step_published_again_is_kept_once(qstash, sink):
    """A step delivery that went out twice (at-least-once) runs the step twice, and the SDK
    publishes its result twice: the second copy is answered with the first one's message id,
    so the run never forks, also once it has ended."""
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_again")
    sink.wait_for(1)
    [first] = step(qstash, url, "wfr_again", 1, "first", "a").json()
    [again] = step(qstash, url, "wfr_again", 1, "first", "a").json()
    assert again == {"messageId": first["messageId"], "url": url, "deduplicated": True}
    sink.wait_for(2)
    time.sleep(0.3)
    assert len(sink.received()) == 2
    assert WorkflowStep.objects.filter(run__run_id="wfr_again").count() == 1
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_again?cancel=false").status_code == 200
    [late] = step(qstash, url, "wfr_again", 1, "first", "a").json()
    assert late == again
    # A step the ended run never had is still refused.
    assert step(qstash, url, "wfr_again", 2, "second", "b").status_code == 400


def test_lazy_fetch_delivers_an_empty_body_and_serves_the_history(qstash, sink, settings):
    settings.QSTASH = {**settings.QSTASH, "WORKFLOW_INLINE_HISTORY_BYTES": 0}
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_lazy")
    step(qstash, url, "wfr_lazy", 1, "first", "a")
    arrivals = sink.wait_for(2)
    assert [a.body for a in arrivals] == [b"", b""]
    response = api(qstash, "GET", "/v2/workflows/runs/wfr_lazy")
    assert response.status_code == 200
    entries = response.json()
    assert [e["messageId"] for e in entries] == [
        a.headers["Upstash-Message-Id"] for a in arrivals]
    assert decoded(entries[0]) == '{"x":1}'
    api(qstash, "DELETE", "/v2/workflows/runs/wfr_lazy?cancel=false")
    gone = api(qstash, "GET", "/v2/workflows/runs/wfr_lazy")
    assert gone.status_code == 404 and gone.json()["error"]


def test_call_result_comes_back_as_a_step_of_the_run(qstash, sink):
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_call")
    sink.wait_for(1)
    headers = {
        "Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": "wfr_call",
        "Upstash-Workflow-Url": url, "Upstash-Feature-Set": "WF_NoDelete,InitialBody",
        "Upstash-Workflow-CallType": "toCallback", "Upstash-Retries": "0",
        "Upstash-Method": "POST", "Upstash-Forward-X-Api": "k",
        "Upstash-Callback": url, "Upstash-Callback-Workflow-RunId": "wfr_call",
        "Upstash-Callback-Workflow-CallType": "fromCallback",
        "Upstash-Callback-Workflow-Init": "false", "Upstash-Callback-Workflow-Url": url,
        "Upstash-Callback-Feature-Set": FEATURES,
        "Upstash-Callback-Forward-Upstash-Workflow-Callback": "true",
        "Upstash-Callback-Forward-Upstash-Workflow-StepId": "1",
        "Upstash-Callback-Forward-Upstash-Workflow-StepName": "ask",
        "Upstash-Callback-Forward-Upstash-Workflow-StepType": "Call",
        "Upstash-Callback-Forward-Upstash-Workflow-Concurrent": "1",
        "Upstash-Callback-Forward-Upstash-Workflow-ContentType": "application/json",
    }
    response = api(qstash, "POST", "/v2/batch", json=[
        {"destination": f"{sink.url}/third?status=201", "headers": headers,
         "body": {"q": "why"}}])
    assert response.status_code == 200, response.text
    arrivals = sink.wait_for(3)
    call, back = arrivals[1], arrivals[2]
    assert (call.path, call.body, call.headers["X-Api"]) == (
        "/third?status=201", b'{"q":"why"}', "k")
    assert back.path == "/wf"
    assert back.headers["Upstash-Workflow-Callback"] == "true"
    assert back.headers["Upstash-Workflow-Stepname"] == "ask"
    assert back.headers["Upstash-Workflow-Runid"] == "wfr_call"
    [entry] = history(back)
    assert entry["callType"] == "fromCallback"
    assert entry["messageId"] == back.headers["Upstash-Message-Id"]
    result = json.loads(decoded(entry))
    assert result["status"] == 201 and base64.b64decode(result["body"]) == b"as asked"
    # The callback is a step delivery of the run: its history holds both legs of the call.
    entries = api(qstash, "GET", "/v2/workflows/runs/wfr_call").json()
    assert [e["callType"] for e in entries] == ["step", "toCallback", "fromCallback"]
    assert Message.objects.get(pk=entry["messageId"]).workflow_run_id == "wfr_call"


def call_step(qstash, sink, run_id: str, body: str = "secret", **extra) -> None:
    """context.call of step 1 ("ask") to the sink with ``body``, then the result step the SDK
    appends."""
    url = f"{sink.url}/wf"
    headers = {
        "Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id,
        "Upstash-Workflow-CallType": "toCallback", "Upstash-Retries": "0",
        "Upstash-Method": "POST", "Upstash-Callback": url,
        "Upstash-Callback-Workflow-RunId": run_id,
        "Upstash-Callback-Workflow-CallType": "fromCallback",
        "Upstash-Callback-Forward-Upstash-Workflow-Callback": "true",
        "Upstash-Callback-Forward-Upstash-Workflow-StepId": "1",
        "Upstash-Callback-Forward-Upstash-Workflow-StepName": "ask",
        "Upstash-Callback-Forward-Upstash-Workflow-StepType": "Call",
        "Upstash-Callback-Forward-Upstash-Workflow-Concurrent": "1", **extra,
    }
    assert api(qstash, "POST", "/v2/batch", json=[
        {"destination": f"{sink.url}/third", "headers": headers, "body": body}
    ]).status_code == 200
    headers = {"Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id}
    body = json.dumps({"stepId": 1, "stepName": "ask", "stepType": "Call", "concurrent": 1,
                       "out": json.dumps({"status": 200, "body": "ok", "header": {}})})
    assert api(qstash, "POST", "/v2/batch", json=[
        {"destination": url, "headers": headers, "body": body}]).status_code == 200


def test_logs_hide_credentials_from_read_only_tokens_and_keep_redactions(qstash, sink):
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_secret", body='{"card":"4242"}',
            **{"Upstash-Redact-Fields": "body"})
    call_step(qstash, sink, "wfr_secret", **{"Upstash-Forward-Authorization": "Bearer sk-1"})
    sink.wait_for(4)
    _, read_only = ApiToken.issue(qstash.tenant, name="ro", read_only=True)

    def logged(token: str) -> dict:
        response = api(qstash, "GET", "/v2/workflows/logs",
                       params={"workflowRunId": "wfr_secret"},
                       headers={"Authorization": f"Bearer {token}"})
        assert response.status_code == 200, response.text
        [run] = response.json()["runs"]
        return run

    for token in (qstash.token, read_only):
        text = json.dumps(logged(token))
        assert "4242" not in text  # the run's body redaction holds for every reader
    [init], [call] = (group["steps"] for group in logged(qstash.token)["steps"][:2])
    assert init["out"].startswith("REDACTED:")
    assert call["callUrl"] == f"{sink.url}/third"
    assert call["callHeaders"]["Authorization"] == ["Bearer sk-1"]
    [_, [call]] = [group["steps"] for group in logged(read_only)["steps"][:2]]
    assert call["callHeaders"]["Authorization"] == ["REDACTED"]
    assert "sk-1" not in json.dumps(logged(read_only))


def test_callback_headers_configure_the_callback_message(qstash, sink):
    """Upstash-Callback-X is the callback message's Upstash-X, recursively (no workflow)."""
    response = api(qstash, "POST", f"/v2/publish/{sink.url}/main", content=b"m", headers={
        "Upstash-Callback": f"{sink.url}/status/500",
        "Upstash-Callback-Retries": "0",
        "Upstash-Callback-Label": "cb-label",
        "Upstash-Callback-Flow-Control-Key": "cb-key",
        "Upstash-Callback-Flow-Control-Value": "parallelism=1",
        "Upstash-Callback-Failure-Callback": f"{sink.url}/cb-failed",
        "Upstash-Callback-Failure-Callback-Forward-X-Deep": "deep",
    })
    assert response.status_code == 200, response.text
    arrivals = sink.wait_for(3)
    assert [a.path for a in arrivals] == ["/main", "/status/500", "/cb-failed"]
    assert arrivals[2].headers["X-Deep"] == "deep"
    callback = Message.objects.get(kind="callback", source_message_id=response.json()["messageId"])
    assert (callback.flow_control_key, callback.flow_control_parallelism) == ("cb-key", 1)
    assert callback.labels == ["cb-label"]
    bad = api(qstash, "POST", f"/v2/publish/{sink.url}/main", headers={
        "Upstash-Callback": f"{sink.url}/cb", "Upstash-Callback-Flow-Control-Value": "x=1"})
    assert bad.status_code == 400 and "Flow-Control" in bad.json()["error"]


def test_a_failed_step_fails_the_run_and_calls_the_failure_function(qstash, sink):
    url = f"{sink.url}/status/500"
    trigger(qstash, url, "wfr_fail", **{"Upstash-Retries": "0"})
    arrivals = sink.wait_for(2)
    failure = arrivals[1]
    payload = json.loads(failure.body)
    run = wait_state("wfr_fail", "RUN_FAILED")
    assert payload["workflowRunId"] == "wfr_fail"
    assert payload["workflowCreatedAt"] == int(run.created_at.timestamp() * 1000)
    assert base64.b64decode(payload["sourceBody"]) == b'{"x":1}'
    assert payload["status"] == 500 and payload["dlqId"] == run.dlq_id
    assert failure.headers["Upstash-Workflow-Is-Failure"] == "true"
    assert failure.headers["Upstash-Workflow-Failure-Callback"] == "true"
    assert failure.headers["Upstash-Workflow-Runid"] == "wfr_fail"
    assert run.failure_message_id == failure.headers["Upstash-Message-Id"]
    logs = api(qstash, "GET", "/v2/workflows/logs", params={"workflowRunId": "wfr_fail"}).json()
    [logged] = logs["runs"]
    assert logged["workflowState"] == "RUN_FAILED" and logged["dlqId"] == run.dlq_id
    assert logged["steps"][-1]["type"] == "next"
    assert logged["steps"][-1]["steps"][0]["state"] == "STEP_FAILED"
    assert logged["failureFunction"]["failStatus"] == 500


def test_cancel_one_run_stops_its_pending_steps(qstash, sink):
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_cancel", **{"Upstash-Delay": "1h"})
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_cancel?cancel=true").status_code == 200
    run = WorkflowRun.objects.get(run_id="wfr_cancel")
    assert run.state == "RUN_CANCELED" and run.completed_at
    assert Message.objects.get(pk=run.init_message_id).status == "canceled"
    again = api(qstash, "DELETE", "/v2/workflows/runs/wfr_cancel?cancel=true")
    assert again.status_code == 400 and "finished" in again.json()["error"]
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_x?cancel=true").status_code == 404
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_x?cancel=maybe").status_code == 400


def test_bulk_cancel_and_log_filters(qstash, sink):
    for run_id, path, label in (("wfr_a", "/jobs/a", "red"), ("wfr_b", "/jobs/b", "blue"),
                                ("wfr_c", "/other", "red")):
        trigger(qstash, f"{sink.url}{path}", run_id,
                **{"Upstash-Delay": "1h", "Upstash-Label": label})

    def runs(**params) -> list[str]:
        response = api(qstash, "GET", "/v2/workflows/events",
                       params={"groupBy": "workflowRunId", **params})
        assert response.status_code == 200, response.text
        return sorted(r["workflowRunId"] for r in response.json()["runs"])

    assert runs() == ["wfr_a", "wfr_b", "wfr_c"]
    assert runs(label="red") == ["wfr_a", "wfr_c"]
    assert runs(workflowUrl=f"{sink.url}/jobs") == ["wfr_a", "wfr_b"]
    assert runs(workflowUrl=f"{sink.url}/jobs", workflowUrlExactMatch="true") == []
    created = WorkflowRun.objects.get(run_id="wfr_b").created_at
    assert runs(workflowCreatedAt=int(created.timestamp() * 1000)) == ["wfr_b"]
    page = api(qstash, "GET", "/v2/workflows/logs", params={"count": 2}).json()
    assert len(page["runs"]) == 2 and page["cursor"]
    rest = api(qstash, "GET", "/v2/workflows/logs", params={"cursor": page["cursor"]}).json()
    assert len(rest["runs"]) == 1 and rest["cursor"] == ""
    assert api(qstash, "GET", "/v2/workflows/logs", params={"state": "NOPE"}).status_code == 400
    assert api(qstash, "GET", "/v2/workflows/logs", params={"bogus": "1"}).status_code == 400

    cancelled = api(qstash, "DELETE", "/v2/workflows/runs",
                    params={"workflowUrl": f"{sink.url}/jobs"})
    assert cancelled.json() == {"cancelled": 2}
    assert runs(state="RUN_CANCELED") == ["wfr_a", "wfr_b"]
    by_id = api(qstash, "DELETE", "/v2/workflows/runs",
                params=[("workflowRunIds", "wfr_c"), ("workflowRunIds", "wfr_a")])
    assert by_id.json() == {"cancelled": 1}
    assert runs(state="RUN_STARTED") == []


def test_a_trigger_answered_by_a_non_workflow_endpoint_fails_the_run(qstash, plain_sink):
    # WF_DetectTrigger: the 2xx came without Upstash-Workflow-Sdk-Version.
    url = f"{plain_sink.url}/not-a-workflow"
    result = trigger(qstash, url, "wfr_plain")
    plain_sink.wait_for(1)
    run = wait_state("wfr_plain", "RUN_FAILED")
    assert "non-workflow destination" in run.error and run.completed_at
    assert Message.objects.get(pk=result["messageId"]).status == "delivered"
    [logged] = api(qstash, "GET", "/v2/workflows/logs",
                   params={"workflowRunId": "wfr_plain"}).json()["runs"]
    [following] = logged["steps"][-1]["steps"]
    assert following["state"] == "STEP_FAILED" and following["messageId"] == result["messageId"]
    assert "non-workflow destination" in following["errors"][0]["error"]
    # Without WF_DetectTrigger announced, the server does not judge the endpoint.
    trigger(qstash, url, "wfr_old_sdk", **{"Upstash-Feature-Set": "LazyFetch,InitialBody"})
    plain_sink.wait_for(2)
    time.sleep(0.3)
    assert WorkflowRun.objects.get(run_id="wfr_old_sdk").state == "RUN_STARTED"


# Python's JSON parser reads NaN, Infinity and 1e400 (as infinity), which the SDKs' cannot,
# and gives up on deep nesting with RecursionError rather than ValueError.
NOT_JSON = {"infinity": "Infinity", "nan": "NaN", "overflow": "1e400",
            "deep": "[" * 5000 + "]" * 5000}


@pytest.mark.parametrize("case", sorted(NOT_JSON))
def test_a_step_body_json_cannot_hold_is_stored_as_text_and_logged_as_json(qstash, sink, case):
    """Such a step is neither a 500 nor a log that is not JSON: its fields are not read from
    it, and its log shows the text it was."""
    number = NOT_JSON[case]
    url = f"{sink.url}/wf"
    run_id = f"wfr_not_json_{case}"
    trigger(qstash, url, run_id)
    sink.wait_for(1)
    headers = {"Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id,
               "Upstash-Workflow-Url": url, "Upstash-Feature-Set": FEATURES,
               "Upstash-Workflow-Sdk-Version": "1", "content-type": "application/json"}
    body = ('{"stepId": %s, "stepName": "odd", "stepType": "Run", "out": %s, '
            '"sleepFor": %s, "concurrent": 1}' % (number, number, number))
    response = api(qstash, "POST", "/v2/batch",
                   json=[{"destination": url, "headers": headers, "body": body}])
    assert response.status_code == 200, response.text
    sink.wait_for(2)
    logs = api(qstash, "GET", "/v2/workflows/logs", params={"workflowRunId": run_id})
    assert logs.status_code == 200, logs.text
    json.loads(logs.text, parse_constant=pytest.fail)  # JSON an SDK can read


@pytest.mark.parametrize("case", sorted(NOT_JSON))
def test_a_call_body_json_cannot_hold_keeps_the_runs_logs_readable(qstash, sink, case):
    run_id = f"wfr_call_not_json_{case}"
    trigger(qstash, f"{sink.url}/wf", run_id)
    sink.wait_for(1)
    call_step(qstash, sink, run_id, body=NOT_JSON[case])
    logs = api(qstash, "GET", "/v2/workflows/logs", params={"workflowRunId": run_id})
    assert logs.status_code == 200, logs.text
    json.loads(logs.text, parse_constant=pytest.fail)
