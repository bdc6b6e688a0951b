"""context.createWebhook / waitForWebhook on the wire: the token's account id, the public
hook URL, lookback, and who may not resume whom."""

from __future__ import annotations

import base64
import json
import time

import pytest

from django_qstash.core import api_tokens
from django_qstash.models import ApiToken, WorkflowEvent, WorkflowRun, WorkflowWaiter
from tests.e2e.helpers import api
from tests.support import http_client
from tests.workflow.helpers import FEATURES, decoded, history, trigger

pytestmark = pytest.mark.django_db(transaction=True)


def step_headers(url: str, run_id: str) -> dict:
    return {"Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id,
            "Upstash-Workflow-Url": url, "Upstash-Feature-Set": FEATURES,
            "Upstash-Workflow-Sdk-Version": "1",
            "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
            "content-type": "application/json"}


def create_webhook(qstash, url: str, run_id: str, event_id: str) -> str:
    """What the SDK appends for context.createWebhook; the URL it builds from the token."""
    account = api_tokens.account_id_of(qstash.token)
    hook_url = f"{qstash.url}/v2/workflows/hooks/{account}/{run_id}/{event_id}"
    body = json.dumps({"stepId": 1, "stepName": "hook", "stepType": "CreateWebhook",
                       "out": json.dumps({"webhookUrl": hook_url, "eventId": event_id}),
                       "concurrent": 1})
    response = api(qstash, "POST", "/v2/batch", json=[
        {"destination": url, "headers": step_headers(url, run_id), "body": body}])
    assert response.status_code == 200, response.text
    return hook_url


def wait_for_webhook(qstash, url: str, run_id: str, event_id: str, step_id: int = 2,
                     timeout: str = "1h"):
    """What the SDK sends for context.waitForWebhook."""
    headers = {**step_headers(url, run_id), "Upstash-Workflow-CallType": "step"}
    payload = {"url": url, "timeout": timeout, "timeoutUrl": url,
               "timeoutHeaders": {name: [value] for name, value in headers.items()},
               "step": {"stepId": step_id, "stepName": f"wait-{step_id}",
                        "stepType": "WaitForWebhook", "concurrent": 1}}
    response = api(qstash, "POST", f"/v2/wait/{event_id}", json=payload, headers=headers)
    assert response.status_code == 200, response.text


def resumed_call(arrival) -> tuple[dict, dict]:
    step = json.loads(decoded(history(arrival)[-1]))
    return step, json.loads(base64.b64decode(step["out"]))


def started(qstash, sink, run_id: str) -> str:
    url = f"{sink.url}/wf"
    trigger(qstash, url, run_id)
    sink.wait_for(1)
    return url


def test_new_tokens_carry_the_tenants_account_id_and_old_ones_still_work(qstash):
    secret = qstash.token
    payload = json.loads(base64.b64decode(secret))
    assert set(payload) == {"UserID", "Password"}
    assert payload["UserID"] == qstash.tenant.account_id
    token = ApiToken.objects.get(tenant=qstash.tenant, name="test")
    assert token.prefix == payload["Password"][:8]
    _, old = ApiToken.issue(qstash.tenant, raw="qst_" + "A" * 40)
    assert api_tokens.account_id_of(old) is None
    response = http_client.get(f"{qstash.url}/v2/keys", headers={"Authorization": f"Bearer {old}"})
    assert response.status_code == 200


def test_a_query_string_token_may_carry_an_unescaped_plus(qstash):
    _, secret = ApiToken.issue(qstash.tenant, raw="eyJVc2VySUQiOiJ+Pz8/Pz8+Pz8=")
    assert http_client.get(f"{qstash.url}/v2/keys?qstash_token={secret}").status_code == 200


def test_a_webhook_call_resumes_the_waiting_run_with_the_request(qstash, sink):
    url = started(qstash, sink, "wfr_hook")
    hook_url = create_webhook(qstash, url, "wfr_hook", "evt_1")
    sink.wait_for(2)
    wait_for_webhook(qstash, url, "wfr_hook", "evt_1")
    response = http_client.put(f"{hook_url}?ref=7", content=b'{"paid":true}',
                               headers={"X-Signature": "s1", "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json() == {"workflowRunId": "wfr_hook", "eventId": "evt_1",
                               "resumed": True}
    resumed = sink.wait_for(3)[2]
    assert resumed.headers["Upstash-Workflow-Runid"] == "wfr_hook"
    step, call = resumed_call(resumed)
    assert (step["stepType"], step["stepName"], step["waitTimeout"]) == (
        "WaitForWebhook", "wait-2", False)
    host = hook_url.split("/")[2]
    assert (call["method"], call["proto"], call["host"]) == ("PUT", "http", host)
    assert call["url"] == hook_url[len(f"http://{host}"):] + "?ref=7"
    assert base64.b64decode(call["body"]) == b'{"paid":true}'
    assert call["header"]["X-Signature"] == ["s1"]
    assert call["header"]["Content-Type"] == ["application/json"]
    assert "Host" not in call["header"] and "Content-Length" not in call["header"]
    assert not WorkflowWaiter.objects.exists()


def test_calls_before_the_wait_are_kept_for_it_one_per_wait(qstash, sink):
    url = started(qstash, sink, "wfr_early")
    hook_url = create_webhook(qstash, url, "wfr_early", "evt_e")
    sink.wait_for(2)
    for n in (1, 2):
        response = http_client.post(hook_url, content=f"call {n}".encode())
        assert response.json()["resumed"] is False
    assert WorkflowEvent.objects.count() == 2
    wait_for_webhook(qstash, url, "wfr_early", "evt_e", step_id=2)
    first = sink.wait_for(3)[2]
    wait_for_webhook(qstash, url, "wfr_early", "evt_e", step_id=3)
    second = sink.wait_for(4)[3]
    assert base64.b64decode(resumed_call(first)[1]["body"]) == b"call 1"
    assert base64.b64decode(resumed_call(second)[1]["body"]) == b"call 2"
    assert not WorkflowEvent.objects.exists()


def test_parallel_waits_on_one_webhook_take_one_call_each(qstash, sink):
    """Promise.all of two waitForWebhook: each call resumes one wait, oldest wait first, so
    the two waits get the two calls and a third call is kept for a later wait."""
    url = started(qstash, sink, "wfr_par")
    hook_url = create_webhook(qstash, url, "wfr_par", "evt_p")
    sink.wait_for(2)
    wait_for_webhook(qstash, url, "wfr_par", "evt_p", step_id=2)
    wait_for_webhook(qstash, url, "wfr_par", "evt_p", step_id=3)
    assert http_client.post(hook_url, content=b"call 1").json()["resumed"] is True
    first = sink.wait_for(3)[2]
    assert WorkflowWaiter.objects.count() == 1
    assert http_client.post(hook_url, content=b"call 2").json()["resumed"] is True
    second = sink.wait_for(4)[3]
    assert http_client.post(hook_url, content=b"call 3").json()["resumed"] is False
    step_one, call_one = resumed_call(first)
    step_two, call_two = resumed_call(second)
    assert (step_one["stepId"], base64.b64decode(call_one["body"])) == (2, b"call 1")
    assert (step_two["stepId"], base64.b64decode(call_two["body"])) == (3, b"call 2")
    assert not WorkflowWaiter.objects.exists()
    assert WorkflowEvent.objects.count() == 1


def test_a_get_call_needs_no_token_and_carries_no_body(qstash, sink):
    url = started(qstash, sink, "wfr_get")
    hook_url = create_webhook(qstash, url, "wfr_get", "evt_g")
    sink.wait_for(2)
    wait_for_webhook(qstash, url, "wfr_get", "evt_g")
    assert http_client.get(hook_url).status_code == 200
    _, call = resumed_call(sink.wait_for(3)[2])
    assert call["method"] == "GET" and "body" not in call


def test_the_hook_url_resumes_only_its_own_tenants_webhooks(qstash, sink, other_tenant):
    url = started(qstash, sink, "wfr_mine")
    create_webhook(qstash, url, "wfr_mine", "evt_m")
    sink.wait_for(2)
    wait_for_webhook(qstash, url, "wfr_mine", "evt_m")
    # A plain waitForEvent of the same run: its event id is no webhook.
    api(qstash, "POST", "/v2/wait/approval", json={
        "url": url, "timeout": "1h", "step": {"stepId": 3, "stepName": "w", "stepType": "Wait",
                                              "concurrent": 1}},
        headers=step_headers(url, "wfr_mine"))
    base = f"{qstash.url}/v2/workflows/hooks"
    mine = qstash.tenant.account_id
    refusals = {
        f"{base}/{other_tenant.tenant.account_id}/wfr_mine/evt_m": "not found",
        f"{base}/not-an-account/wfr_mine/evt_m": "not found",
        f"{base}/{mine}/wfr_nobody/evt_m": "not found",
        f"{base}/{mine}/wfr_mine/evt_unknown": "webhook evt_unknown of workflow run",
        f"{base}/{mine}/wfr_mine/approval": "webhook approval of workflow run",
    }
    for hook_url, reason in refusals.items():
        response = http_client.post(hook_url, content=b"forged")
        assert response.status_code == 404, hook_url
        assert reason in response.json()["error"]
    assert WorkflowWaiter.objects.count() == 2 and not WorkflowEvent.objects.exists()
    time.sleep(0.3)
    assert len(sink.received()) == 2


def test_a_finished_run_takes_no_more_calls(qstash, sink):
    url = started(qstash, sink, "wfr_done")
    hook_url = create_webhook(qstash, url, "wfr_done", "evt_d")
    sink.wait_for(2)
    assert api(qstash, "DELETE", "/v2/workflows/runs/wfr_done?cancel=false").status_code == 200
    response = http_client.post(hook_url, content=b"late")
    assert response.status_code == 404
    assert "already finished" in response.json()["error"]
    assert WorkflowRun.objects.get(run_id="wfr_done").state == "RUN_SUCCESS"


def test_a_call_too_large_for_a_step_is_refused_before_anything_changes(qstash, sink,
                                                                         settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_BODY_BYTES": 4096}
    url = started(qstash, sink, "wfr_big")
    hook_url = create_webhook(qstash, url, "wfr_big", "evt_b")
    sink.wait_for(2)
    wait_for_webhook(qstash, url, "wfr_big", "evt_b")
    response = http_client.post(hook_url, content=b"x" * 3000)
    assert response.status_code == 413
    assert WorkflowWaiter.objects.count() == 1


def test_a_create_webhook_step_whose_output_is_not_json_is_no_webhook(qstash, sink):
    """The step's output is read for its event id: output nested too deeply to parse names no
    webhook, and a call to the run's hook URLs is a 404 rather than a 500."""
    url = started(qstash, sink, "wfr_deep")
    body = json.dumps({"stepId": 2, "stepName": "deep hook", "stepType": "CreateWebhook",
                       "out": "[" * 5000 + "]" * 5000, "concurrent": 1})
    response = api(qstash, "POST", "/v2/batch", json=[
        {"destination": url, "headers": step_headers(url, "wfr_deep"), "body": body}])
    assert response.status_code == 200, response.text
    hook_url = create_webhook(qstash, url, "wfr_deep", "evt_ok").rsplit("/", 1)[0]
    assert http_client.post(f"{hook_url}/evt_other", content=b"x").status_code == 404
    assert http_client.post(f"{hook_url}/evt_ok", content=b"x").status_code == 200
