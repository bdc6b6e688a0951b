"""POST /v2/trigger/{url}: start a run without the SDK, as ``client.trigger`` would.

The run is created from the request (its body, forwarded headers, retries, delay, flow
control, label, failure callback) and its first delivery carries
``Upstash-Workflow-Unknown-Sdk: true``: the SDK then triggers the same run itself with
``upstash-workflow-trigger-by-sdk: true`` (see steps._adopt), and from there on it is an
ordinary run. Without a failure callback of its own, the run's failure goes to the workflow
URL's failure function, as the SDK sets it up.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db import transaction

from django_qstash.core import clock, ids
from django_qstash.core.request_headers import WORKFLOW_RUN_ID
from django_qstash.engine.publishing import PublishSpec, prepare, publish_specs
from django_qstash.engine.workflow.steps import NOT_A_WORKFLOW_ERROR, REST_TRIGGER
from django_qstash.exceptions import BadRequest
from django_qstash.models import Tenant, WorkflowRun

FEATURES = "LazyFetch,InitialBody,WF_DetectTrigger,WF_TriggerOnConfig"
UNKNOWN_SDK = "Upstash-Workflow-Unknown-Sdk"
# What the run shows when its URL answers without the SDK's protocol (a plain endpoint, or
# an SDK older than the REST trigger).
NOT_A_WORKFLOW = ("trigger rest api is only usable with sdk versions after v1.0.0 major "
                  "version")
FAILURE = "upstash-failure-callback"


@dataclass
class Trigger:
    spec: PublishSpec
    run_id: str


def prepare_trigger(tenant: Tenant, url: str, body: bytes, pairs: Iterable[tuple[str, str]],
                    query: Iterable[tuple[str, str]] = (), caller_ip: str = "") -> Trigger:
    """Parse and check a trigger request without writing anything."""
    pairs = list(pairs)
    given = {name.lower(): value for name, value in pairs}
    run_id = (given.get(WORKFLOW_RUN_ID) or "").strip() or f"wfr_{ids.base58(24)}"
    spec = prepare(tenant, url, body, [*_own(pairs), *_workflow_headers(url, run_id, given)],
                   query, caller_ip=caller_ip)
    if spec.is_group:
        raise BadRequest("a workflow is triggered at its URL, not at a URL group")
    return Trigger(spec, run_id)


def start(tenant: Tenant, trigger: Trigger) -> dict:
    """Start the run; ``{workflowRunId, workflowCreatedAt}``, plus ``deduplicated: true``
    when a run with the requested id exists already."""
    spec, run_id = trigger.spec, trigger.run_id
    with transaction.atomic():
        [published] = publish_specs(tenant, [spec])
        run = WorkflowRun.objects.select_for_update().get(tenant=tenant, run_id=run_id)
        if not published.deduplicated:
            _await_the_sdk(run)
    result = {"workflowRunId": run_id, "workflowCreatedAt": clock.to_ms(run.created_at)}
    if published.deduplicated:
        result["deduplicated"] = True
    return result


def _own(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """The caller's headers but the workflow protocol's, which are the server's to set."""
    return [(name, value) for name, value in pairs
            if not name.lower().startswith(("upstash-workflow-", "upstash-feature-set"))]


def _workflow_headers(url: str, run_id: str, given: dict[str, str]) -> list[tuple[str, str]]:
    """What client.trigger adds: the run, its URL, the protocol's features, and a failure
    callback that reaches the workflow's failure function."""
    headers = [("Upstash-Workflow-Init", "true"), ("Upstash-Workflow-RunId", run_id),
               ("Upstash-Workflow-Url", url), ("Upstash-Feature-Set", FEATURES),
               (f"Upstash-Forward-{UNKNOWN_SDK}", "true")]
    if FAILURE not in given:
        headers.append(("Upstash-Failure-Callback", url))
    failure = {"Forward-Upstash-Workflow-Is-Failure": "true",
               "Forward-Upstash-Workflow-Failure-Callback": "true",
               "Workflow-Runid": run_id, "Workflow-Init": "false", "Workflow-Url": url,
               "Workflow-Calltype": "failureCall", "Feature-Set": FEATURES}
    for name in ("retries", "retry-delay"):
        if f"upstash-{name}" in given:
            failure[name.title()] = given[f"upstash-{name}"]
    for name, value in given.items():
        if name.startswith("upstash-forward-"):
            failure[f"Forward-{name[len('upstash-forward-'):]}"] = value
    headers += [(f"Upstash-Failure-Callback-{name}", value) for name, value in failure.items()
                if f"upstash-failure-callback-{name.lower()}" not in given]
    return headers


def _await_the_sdk(run: WorkflowRun) -> None:
    """Only the first delivery says "unknown SDK"; the run waits for the SDK's own trigger."""
    config = dict(run.config)
    config["headers"] = {name: values for name, values in config.get("headers", {}).items()
                         if name.lower() != UNKNOWN_SDK.lower()}
    config[REST_TRIGGER] = True
    config[NOT_A_WORKFLOW_ERROR] = NOT_A_WORKFLOW
    run.config = config
    run.save(update_fields=["config"])
