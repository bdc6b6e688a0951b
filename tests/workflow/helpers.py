"""What the Workflow SDKs send, by hand (triggers), what a step delivery carried, the runs'
logs, and the environment an SDK process gets."""

from __future__ import annotations

import base64
import json
import os
import time
from pathlib import Path

from django_qstash.models import WorkflowRun
from tests.e2e.helpers import api

NODE_DIR = Path(__file__).parent / "node"  # the Node SDK harness

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


def run_logs(qstash, **filters) -> list[dict]:
    """``GET /v2/workflows/logs``: the runs matching ``filters``, newest first."""
    response = api(qstash, "GET", "/v2/workflows/logs", params=filters)
    assert response.status_code == 200, response.text
    return response.json()["runs"]


def ended_run(qstash, timeout: float = 60, **filters) -> dict:
    """The one run matching ``filters``, once it has left ``RUN_STARTED``."""
    deadline = time.monotonic() + timeout
    runs: list[dict] = []
    while time.monotonic() < deadline:
        runs = run_logs(qstash, **filters)
        if runs and runs[0]["workflowState"] != "RUN_STARTED":
            assert len(runs) == 1, runs
            return runs[0]
        time.sleep(0.1)
    raise AssertionError(f"no ended run for {filters} in {timeout} s: {runs}")


def logged_steps(run: dict) -> list[dict]:
    """The run's steps as its log lists them, sequential and parallel groups flattened (the
    pending or failed next step left out)."""
    return [step for group in run["steps"] if group["type"] != "next" for step in group["steps"]]


def sdk_env(url: str, token: str, current_key: str, next_key: str) -> dict:
    """This process's environment, with the SDKs' own variables naming ``url`` only."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QSTASH_", "UPSTASH_")) and not k.endswith("_QSTASH_URL")}
    env.update({"QSTASH_URL": url, "QSTASH_TOKEN": token, "QSTASH_CURRENT_SIGNING_KEY": current_key,
                "QSTASH_NEXT_SIGNING_KEY": next_key, "NO_COLOR": "1"})
    return env
