"""context.waitForEvent on the wire: waiters, notify with and without a run, timeouts."""

from __future__ import annotations

import base64
import json

import pytest

from django_qstash.models import WorkflowEvent, WorkflowRun, WorkflowWaiter
from tests.e2e.helpers import api
from tests.workflow.helpers import decoded, history, trigger

pytestmark = pytest.mark.django_db(transaction=True)


def wait(qstash, sink, run_id: str, event_id: str, timeout="1h", **body):
    url = f"{sink.url}/wf"
    step_headers = {"Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id,
                    "Upstash-Workflow-Url": url, "Upstash-Workflow-CallType": "step",
                    "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1"}
    payload = {"url": url, "timeout": timeout, "timeoutUrl": f"{url}?timeout=1",
               "timeoutHeaders": {name: [value] for name, value in step_headers.items()},
               "step": {"stepId": 1, "stepName": "approval", "stepType": "Wait",
                        "concurrent": 1}, **body}
    return api(qstash, "POST", f"/v2/wait/{event_id}", json=payload, headers=step_headers)


def test_notify_resumes_the_waiting_run_with_the_event_data(qstash, sink):
    trigger(qstash, f"{sink.url}/wf", "wfr_w")
    sink.wait_for(1)
    assert wait(qstash, sink, "wfr_w", "approved").status_code == 200
    [waiter] = api(qstash, "GET", "/v2/waiters/approved").json()
    assert waiter["url"] == f"{sink.url}/wf" and waiter["timeoutUrl"].endswith("?timeout=1")
    response = api(qstash, "POST", "/v2/notify/approved", content=b'{"ok":true}')
    [result] = response.json()
    run = WorkflowRun.objects.get(run_id="wfr_w")
    assert result["workflowRunId"] == "wfr_w" and result["deduplicated"] is False
    assert result["workflowCreatedAt"] == int(run.created_at.timestamp() * 1000)
    assert result["waiter"]["url"] == f"{sink.url}/wf"
    resumed = sink.wait_for(2)[1]
    assert resumed.path == "/wf"
    assert resumed.headers["Upstash-Message-Id"] == result["messageId"]
    entries = history(resumed)
    step = json.loads(decoded(entries[-1]))
    assert step == {"stepId": 1, "stepName": "approval", "stepType": "Wait", "concurrent": 1,
                    "out": base64.b64encode(b'{"ok":true}').decode(), "waitTimeout": False}
    assert api(qstash, "GET", "/v2/waiters/approved").json() == []
    assert api(qstash, "POST", "/v2/notify/approved", content=b"again").json() == []


def test_a_waiter_past_its_deadline_resumes_at_its_timeout_url(qstash, sink):
    trigger(qstash, f"{sink.url}/wf", "wfr_late")
    sink.wait_for(1)
    assert wait(qstash, sink, "wfr_late", "never", timeout="1s").status_code == 200
    resumed = sink.wait_for(2, timeout=10)[1]
    assert resumed.path == "/wf?timeout=1"
    step = json.loads(decoded(history(resumed)[-1]))
    assert step["waitTimeout"] is True and "out" not in step
    assert not WorkflowWaiter.objects.exists()


def test_lookback_keeps_an_event_for_its_run_only(qstash, sink):
    trigger(qstash, f"{sink.url}/wf", "wfr_lb")
    sink.wait_for(1)
    assert api(qstash, "POST", "/v2/notify/wfr_lb/early", content=b"x").json() == []
    assert api(qstash, "POST", "/v2/notify/wfr_nobody/early", content=b"x").json() == []
    assert WorkflowEvent.objects.count() == 1
    assert wait(qstash, sink, "wfr_lb", "early").status_code == 200
    resumed = sink.wait_for(2)[1]
    assert base64.b64decode(json.loads(decoded(history(resumed)[-1]))["out"]) == b"x"
    assert not WorkflowEvent.objects.exists() and not WorkflowWaiter.objects.exists()


def test_waits_are_refused_with_a_reason_and_end_with_their_run(qstash, sink):
    trigger(qstash, f"{sink.url}/wf", "wfr_bad")
    assert wait(qstash, sink, "wfr_unknown", "e").status_code == 400
    assert wait(qstash, sink, "wfr_bad", "e", timeout="soon").status_code == 400
    assert wait(qstash, sink, "wfr_bad", "e", timeout=-1).status_code == 400
    assert wait(qstash, sink, "wfr_bad", "e", step="x").status_code == 400
    assert wait(qstash, sink, "wfr_bad", "e", timeoutHeaders={"A": "b"}).status_code == 400
    anonymous = api(qstash, "POST", "/v2/wait/e", json={"url": "https://x/y", "step": {}})
    assert anonymous.status_code == 400 and "RunId" in anonymous.json()["error"]
    assert wait(qstash, sink, "wfr_bad", "e").status_code == 200
    api(qstash, "POST", "/v2/notify/wfr_bad/other", content=b"x")
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_bad?cancel=true").status_code == 200
    assert not WorkflowWaiter.objects.exists() and not WorkflowEvent.objects.exists()
