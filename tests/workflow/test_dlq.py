"""The workflow DLQ over HTTP: failed runs listed with their runs, resumed or restarted as new
runs, their failure callback retried; tenant-scoped, closed to read-only tokens."""

from __future__ import annotations

import json

import pytest

from django_qstash.models import ApiToken, DlqEntry, Message, WorkflowRun, WorkflowStep
from tests.e2e.helpers import api, publish
from tests.support.polling import wait_for
from tests.workflow.helpers import decoded, history, trigger
from tests.workflow.test_protocol import step, wait_state

pytestmark = pytest.mark.django_db(transaction=True)


def failed_run(qstash, sink, run_id: str, failing_path: str = "/status/500",
               **trigger_headers) -> WorkflowRun:
    """A run whose first step ran and whose second step's delivery failed for good."""
    url = f"{sink.url}/wf"
    trigger(qstash, url, run_id, **{"Upstash-Retries": "0", **trigger_headers})
    sink.wait_for(1, "/wf")
    assert step(qstash, url, run_id, 1, "first", "one").status_code == 200
    sink.wait_for(2, "/wf")
    # The SDK publishes every step to the workflow URL; a failing URL stands in for the app
    # throwing in the step after this one.
    assert step(qstash, f"{sink.url}{failing_path}", run_id, 2, "second",
                {"two": 2}).status_code == 200
    return wait_state(run_id, "RUN_FAILED")


def arrivals_of(sink, run_id: str, path: str, count: int = 1) -> list:
    """What reached ``path`` for ``run_id``, once ``count`` such deliveries have."""
    return wait_for(f"{count} deliveries of {run_id}", lambda: (
        got if len(got := [a for a in sink.received(path)
                           if a.headers.get("Upstash-Workflow-Runid") == run_id]) >= count
        else None))


def listed(qstash, path: str = "/v2/dlq", **params) -> dict:
    response = api(qstash, "GET", path, params=params)
    assert response.status_code == 200, response.text
    return response.json()


def failure_state(qstash, run_id: str) -> str | None:
    messages = listed(qstash, source="workflow", workflowRunId=run_id)["messages"]
    return messages and messages[0].get("failureCallbackInfo", {}).get("state")


def test_the_workflow_dlq_lists_failed_steps_with_their_run(qstash, sink):
    run = failed_run(qstash, sink, "wfr_listed", **{"Upstash-Label": "nightly"})
    publish(qstash, f"{sink.url}/status/500", b"plain", Upstash_Retries="0")
    wait_for("the plain message's DLQ entry", lambda: DlqEntry.objects.filter(
        message__workflow_run_id="").exists())
    wait_for("the failure function's success",
             lambda: failure_state(qstash, "wfr_listed") == "CALLBACK_SUCCESS")
    everything = listed(qstash)["messages"]
    assert len(everything) == 2  # the plain DLQ still shows both, the step with its run
    assert sorted(m.get("workflowRunId", "") for m in everything) == ["", "wfr_listed"]
    for path, params in (("/v2/dlq", {"source": "workflow"}), ("/v2/workflows/dlq", {})):
        [entry] = listed(qstash, path, **params)["messages"]
        assert entry["dlqId"] == run.dlq_id
        assert entry["workflowRunId"] == "wfr_listed"
        assert entry["workflowUrl"] == f"{sink.url}/wf"
        assert entry["workflowCreatedAt"] == int(run.created_at.timestamp() * 1000)
        assert entry["url"] == f"{sink.url}/status/500"
        assert entry["responseStatus"] == 500 and entry["responseBody"] == "500 answer"
        assert entry["label"] == "nightly"
        assert entry["failureCallback"] == f"{sink.url}/wf"
        info = entry["failureCallbackInfo"]
        assert (info["state"], info["responseStatus"]) == ("CALLBACK_SUCCESS", 200)
        # The failed delivery as it was sent: the run's history up to the failed step.
        assert json.loads(decoded(json.loads(entry["body"])[-1]))["stepName"] == "second"
    one = api(qstash, "GET", f"/v2/workflows/dlq/{run.dlq_id}").json()
    assert one["workflowRunId"] == "wfr_listed" and one["dlqId"] == run.dlq_id
    created = str(int(run.created_at.timestamp() * 1000))
    for params, count in (({"workflowRunId": "wfr_other"}, 0),
                          ({"workflowRunId": "wfr_listed"}, 1),
                          ({"workflowCreatedAt": created}, 1),
                          ({"workflowCreatedAt": str(int(created) + 1)}, 0),
                          ({"failureFunctionState": "CALLBACK_FAIL"}, 0),
                          ({"failureFunctionState": "CALLBACK_SUCCESS,CALLBACK_FAIL"}, 1),
                          ({"workflowUrl": f"{sink.url}/wf"}, 1),
                          ({"workflowUrl": f"{sink.url}/status/500"}, 0),
                          ({"url": f"{sink.url}/status/500"}, 1),
                          ({"label": "nightly"}, 1), ({"label": "daily"}, 0),
                          ({"responseStatus": "500"}, 1), ({"responseStatus": "404"}, 0)):
        assert len(listed(qstash, "/v2/workflows/dlq", **params)["messages"]) == count, params
    bad = api(qstash, "GET", "/v2/workflows/dlq", params={"failureFunctionState": "NOPE"})
    assert bad.status_code == 400 and "NOPE" in bad.json()["error"]
    bad = api(qstash, "GET", "/v2/workflows/dlq", params={"workflowCreatedAt": "soon"})
    assert bad.status_code == 400


def test_a_page_of_workflow_entries_costs_the_same_queries_however_many_it_holds(qstash, sink):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from django_qstash.api.workflow_dlq import entries_json

    failed_run(qstash, sink, "wfr_counted")
    wait_for("the failure function's success",
             lambda: failure_state(qstash, "wfr_counted") == "CALLBACK_SUCCESS")
    entry = DlqEntry.objects.select_related("message").get(message__workflow_run_id="wfr_counted")
    counts = []
    for page in ([entry], [entry, entry, entry]):
        with CaptureQueriesContext(connection) as queries:
            shown = entries_json(page, False)
        counts.append(len(queries))
        assert all(e["failureCallbackInfo"]["responseStatus"] == 200 for e in shown)
    assert counts[0] == counts[1], counts


def test_resume_continues_from_the_failed_step_under_a_new_run_id(qstash, sink):
    old = failed_run(qstash, sink, "wfr_resumed", failing_path="/flaky/1")
    old_steps = list(WorkflowStep.objects.filter(run=old).order_by("id"))
    response = api(qstash, "POST", "/v2/workflows/dlq/resume",
                   params={"dlqIds": old.dlq_id}, headers={"Upstash-Retries": "1"})
    assert response.status_code == 200, response.text
    [created] = response.json()["workflowRuns"]
    new_id = created["workflowRunId"]
    assert new_id.startswith("wfr_") and new_id != "wfr_resumed"
    new = WorkflowRun.objects.get(run_id=new_id)
    assert created["workflowCreatedAt"] == int(new.created_at.timestamp() * 1000)
    # Its first delivery fails (the sink fails each message once); the overridden retries
    # send it again.
    resumed = arrivals_of(sink, new_id, "/flaky/1", 2)[-1]
    assert resumed.headers["Upstash-Workflow-Runid"] == new_id
    assert resumed.headers["Upstash-Workflow-Createdat"] == str(created["workflowCreatedAt"])
    entries = history(resumed)
    assert [e["messageId"] for e in entries] == [
        old.init_message_id, old_steps[0].message_id, resumed.headers["Upstash-Message-Id"]]
    assert decoded(entries[0]) == '{"x":1}'
    assert [json.loads(decoded(e))["stepName"] for e in entries[1:]] == ["first", "second"]
    assert new.state == "RUN_STARTED" and new.url == old.url and new.config["retries"] == 1
    assert WorkflowStep.objects.filter(run=new).count() == 2
    assert not DlqEntry.objects.filter(dlq_id=old.dlq_id).exists()
    assert WorkflowRun.objects.get(run_id="wfr_resumed").state == "RUN_FAILED"
    delivery = Message.objects.get(pk=resumed.headers["Upstash-Message-Id"])
    assert delivery.workflow_run_id == new_id and delivery.max_retries == 1
    assert delivery.failure_callback_options["nested"]["upstash-workflow-runid"] == new_id
    # The SDK goes on in the new run: its next step is appended there.
    url = f"{sink.url}/wf"
    assert step(qstash, url, new_id, 3, "third", "three").status_code == 200
    later = arrivals_of(sink, new_id, "/wf")
    assert [json.loads(decoded(e))["stepName"] for e in history(later[0])[1:]] == [
        "first", "second", "third"]
    assert api(qstash, "DELETE", f"/v2/workflows/runs/{new_id}", params={"cancel": "false"},
               content=b'"done"').status_code == 200
    assert WorkflowRun.objects.get(run_id=new_id).state == "RUN_SUCCESS"


def test_restart_starts_from_the_initial_body_with_overrides(qstash, sink):
    old = failed_run(qstash, sink, "wfr_restarted")
    response = api(qstash, "POST", f"/v2/workflows/dlq/restart/{old.dlq_id}", headers={
        "Upstash-Flow-Control-Key": "restarts", "Upstash-Flow-Control-Value": "parallelism=1",
        "Upstash-Label": "again", "Upstash-Workflow-RunId": "wfr_chosen"})
    assert response.status_code == 200, response.text
    assert response.json()["workflowRunId"] == "wfr_chosen"
    [arrival] = arrivals_of(sink, "wfr_chosen", "/wf")
    [initial] = history(arrival)
    assert initial["messageId"] == arrival.headers["Upstash-Message-Id"]
    assert decoded(initial) == '{"x":1}'
    assert arrival.headers["Upstash-Workflow-Runid"] == "wfr_chosen"
    new = WorkflowRun.objects.get(run_id="wfr_chosen")
    assert new.init_message_id == initial["messageId"]
    assert not WorkflowStep.objects.filter(run=new).exists()
    assert (new.labels, new.flow_control_key) == (["again"], "restarts")
    assert new.config["flow_control"]["parallelism"] == 1
    delivery = Message.objects.get(pk=initial["messageId"])
    assert (delivery.flow_control_key, delivery.labels) == ("restarts", ["again"])
    # The new run's steps take the overridden settings too (WF_TriggerOnConfig).
    assert step(qstash, f"{sink.url}/wf", "wfr_chosen", 1, "first", "x").status_code == 200
    next_step = wait_for("the step", lambda: Message.objects.filter(
        workflow_run_id="wfr_chosen").exclude(pk=initial["messageId"]).first())
    assert (next_step.flow_control_key, next_step.labels) == ("restarts", ["again"])
    # The entry has left the DLQ: a second restart finds nothing.
    again = api(qstash, "POST", f"/v2/workflows/dlq/restart/{old.dlq_id}")
    assert again.status_code == 404 and old.dlq_id in again.json()["error"]


def test_resume_after_the_trigger_itself_failed_delivers_the_initial_body(qstash, sink):
    url = f"{sink.url}/flaky/1"
    trigger(qstash, url, "wfr_first_failed", **{"Upstash-Retries": "0"})
    old = wait_state("wfr_first_failed", "RUN_FAILED")
    response = api(qstash, "POST", f"/v2/workflows/dlq/resume/{old.dlq_id}",
                   headers={"Upstash-Retries": "1"})
    assert response.status_code == 200, response.text
    new = WorkflowRun.objects.get(run_id=response.json()["workflowRunId"])
    arrival = arrivals_of(sink, new.run_id, "/flaky/1", 2)[-1]
    [initial] = history(arrival)
    assert initial["messageId"] == arrival.headers["Upstash-Message-Id"] == new.init_message_id


def test_bulk_resume_by_filter_and_missing_ids(qstash, sink):
    failed_run(qstash, sink, "wfr_bulk_a")
    failed_run(qstash, sink, "wfr_bulk_b")
    missing = api(qstash, "POST", "/v2/workflows/dlq/resume", params={"dlqIds": "1-nope"})
    assert missing.status_code == 404 and "1-nope" in missing.json()["error"]
    unknown = api(qstash, "POST", "/v2/workflows/dlq/resume", params={"colour": "red"})
    assert unknown.status_code == 400
    response = api(qstash, "POST", "/v2/workflows/dlq/resume",
                   params={"workflowRunId": "wfr_bulk_b"})
    assert response.status_code == 200, response.text
    [resumed] = response.json()["workflowRuns"]
    # Its failed step fails again (same URL, no retries): the new run is in the DLQ now.
    wait_state(resumed["workflowRunId"], "RUN_FAILED")
    left = listed(qstash, "/v2/workflows/dlq")["messages"]
    assert {m["workflowRunId"] for m in left} == {"wfr_bulk_a", resumed["workflowRunId"]}
    deleted = api(qstash, "DELETE", "/v2/workflows/dlq",
                  params={"dlqIds": ",".join(m["dlqId"] for m in left)})
    assert deleted.json() == {"deleted": 2}
    assert listed(qstash, "/v2/workflows/dlq")["messages"] == []


def test_a_purged_run_cannot_be_resumed_and_plain_entries_are_not_workflow_entries(qstash, sink):
    run = failed_run(qstash, sink, "wfr_purged")
    WorkflowRun.objects.filter(pk=run.pk).delete()
    response = api(qstash, "POST", f"/v2/workflows/dlq/resume/{run.dlq_id}")
    assert response.status_code == 400 and "no longer kept" in response.json()["error"]
    [entry] = listed(qstash, "/v2/workflows/dlq")["messages"]
    assert entry["workflowRunId"] == "wfr_purged"  # still listed, from its delivery's headers
    assert entry["workflowCreatedAt"] == int(run.created_at.timestamp() * 1000)
    publish(qstash, f"{sink.url}/status/500", b"plain", Upstash_Retries="0")
    plain = wait_for("the plain entry", lambda: DlqEntry.objects.filter(
        message__workflow_run_id="").first())
    for method, path in (("POST", f"/v2/workflows/dlq/resume/{plain.dlq_id}"),
                         ("POST", f"/v2/workflows/dlq/callback/{plain.dlq_id}"),
                         ("GET", f"/v2/workflows/dlq/{plain.dlq_id}")):
        assert api(qstash, method, path).status_code == 404


def test_retry_the_failed_failure_callback(qstash, sink):
    failing = f"{sink.url}/status/503"
    run = failed_run(qstash, sink, "wfr_callback", **{"Upstash-Failure-Callback": failing})
    wait_for("the failure callback to fail",
             lambda: failure_state(qstash, "wfr_callback") == "CALLBACK_FAIL")
    [entry] = listed(qstash, "/v2/workflows/dlq", failureFunctionState="CALLBACK_FAIL")[
        "messages"]
    assert entry["failureCallbackInfo"]["responseStatus"] == 503
    first_failure = WorkflowRun.objects.get(pk=run.pk).failure_message_id
    not_running = api(qstash, "DELETE", f"/v2/workflows/dlq/callback/{run.dlq_id}")
    assert not_running.status_code == 400 and "not in progress" in not_running.json()["error"]
    response = api(qstash, "POST", f"/v2/workflows/dlq/callback/{run.dlq_id}")
    assert response.status_code == 200, response.text
    assert response.json() == {"workflowRunId": "wfr_callback", "workflowCreatedAt": int(
        run.created_at.timestamp() * 1000)}
    arrivals = sink.wait_for(2, "/status/503")
    assert arrivals[0].body == arrivals[1].body  # the same failure payload, sent again
    assert json.loads(arrivals[1].body)["workflowRunId"] == "wfr_callback"
    retried = WorkflowRun.objects.get(pk=run.pk).failure_message_id
    assert retried != first_failure
    assert not DlqEntry.objects.filter(message_id=first_failure).exists()
    assert DlqEntry.objects.filter(dlq_id=run.dlq_id).exists()  # the run stays in the DLQ


def test_a_succeeded_failure_callback_is_not_retried(qstash, sink):
    run = failed_run(qstash, sink, "wfr_cb_ok")
    wait_for("the failure function's success",
             lambda: failure_state(qstash, "wfr_cb_ok") == "CALLBACK_SUCCESS")
    response = api(qstash, "POST", f"/v2/workflows/dlq/callback/{run.dlq_id}")
    assert response.status_code == 400 and "only a failed one" in response.json()["error"]


def test_tenants_and_read_only_tokens(qstash, sink, other_tenant):
    run = failed_run(qstash, sink, "wfr_scoped")
    theirs = {"Authorization": f"Bearer {other_tenant.token}"}
    assert api(qstash, "GET", "/v2/workflows/dlq", headers=theirs).json()["messages"] == []
    assert api(qstash, "GET", "/v2/dlq", params={"source": "workflow"},
               headers=theirs).json()["messages"] == []
    for method, path, params in (
            ("POST", f"/v2/workflows/dlq/resume/{run.dlq_id}", {}),
            ("POST", "/v2/workflows/dlq/restart", {"dlqIds": run.dlq_id}),
            ("POST", f"/v2/workflows/dlq/callback/{run.dlq_id}", {}),
            ("GET", f"/v2/workflows/dlq/{run.dlq_id}", {}),
            ("DELETE", f"/v2/workflows/dlq/{run.dlq_id}", {})):
        assert api(qstash, method, path, params=params, headers=theirs).status_code == 404
    assert api(qstash, "DELETE", "/v2/workflows/dlq", params={"dlqIds": run.dlq_id},
               headers=theirs).json() == {"deleted": 0}
    _, read_only = ApiToken.issue(qstash.tenant, name="ro", read_only=True)
    reader = {"Authorization": f"Bearer {read_only}"}
    assert len(api(qstash, "GET", "/v2/workflows/dlq", headers=reader).json()["messages"]) == 1
    for method, path in (("POST", f"/v2/workflows/dlq/resume/{run.dlq_id}"),
                         ("POST", "/v2/workflows/dlq/restart"),
                         ("POST", f"/v2/workflows/dlq/callback/{run.dlq_id}"),
                         ("DELETE", f"/v2/workflows/dlq/callback/{run.dlq_id}"),
                         ("DELETE", "/v2/workflows/dlq")):
        assert api(qstash, method, path, params={"dlqIds": run.dlq_id},
                   headers=reader).status_code == 403
    assert DlqEntry.objects.filter(dlq_id=run.dlq_id).exists()
    assert WorkflowRun.objects.filter(tenant=qstash.tenant).count() == 1
