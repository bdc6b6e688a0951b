"""What the Workflow SDKs send, by hand: triggers, and reading what a step delivery carried."""

from __future__ import annotations

import base64
import json
import time

from django_qstash.models import WorkflowRun
from tests.e2e.helpers import api

FEATURES = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig"


def trigger(qstash, url: str, run_id: str, body: str = '{"x":1}', **extra) -> dict:
    """What client.trigger sends (``/v2/batch``, one item)."""
    headers = {
        "Upstash-Workflow-Init": "true", "Upstash-Workflow-RunId": run_id,
        "Upstash-Workflow-Url": url, "Upstash-Feature-Set": FEATURES,
        "Upstash-Workflow-Sdk-Version": "1", "Upstash-Forward-Upstash-Workflow-Sdk-Version": "1",
        "Upstash-Forward-X-User": "u", "content-type": "application/json",
        "Upstash-Failure-Callback": url,
        "Upstash-Failure-Callback-Forward-Upstash-Workflow-Is-Failure": "true",
        "Upstash-Failure-Callback-Forward-Upstash-Workflow-Failure-Callback": "true",
        "Upstash-Failure-Callback-Workflow-Runid": run_id,
        "Upstash-Failure-Callback-Workflow-Init": "false",
        "Upstash-Failure-Callback-Workflow-Url": url,
        "Upstash-Failure-Callback-Workflow-Calltype": "failureCall",
        "Upstash-Failure-Callback-Feature-Set": FEATURES, **extra,
    }
    response = api(qstash, "POST", "/v2/batch",
                   json=[{"destination": url, "headers": headers, "body": body}])
    assert response.status_code == 200, response.text
    [result] = response.json()
    return result


def history(arrival) -> list[dict]:
    return json.loads(arrival.body)


def decoded(entry: dict) -> str:
    return base64.b64decode(entry["body"]).decode()


def wait_state(run_id: str, state: str, timeout: float = 20) -> WorkflowRun:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        run = WorkflowRun.objects.get(run_id=run_id)
        if run.state == state:
            return run
        time.sleep(0.05)
    raise AssertionError(f"{run_id} is {run.state}, not {state}")
