"""Workflow messages as they are accepted: the trigger creates the run, later publishes and
callbacks append to it, and every step delivery carries the run's history up to itself
(composed when it is sent: ``delivered``)."""

from __future__ import annotations

import base64
import json
from datetime import datetime

from django.db import IntegrityError, transaction

from django_qstash.core import clock, strict_json
from django_qstash.core.request_headers import WORKFLOW_RUN_ID, PublishOptions
from django_qstash.core.storable_text import json_flaw
from django_qstash.engine.workflow import delivered, history
from django_qstash.engine.workflow.invoke import invocation
from django_qstash.exceptions import BadRequest
from django_qstash.models import WorkflowRun, WorkflowStep, WorkflowWaiter

INIT = "upstash-workflow-init"
CALL_TYPE = "upstash-workflow-calltype"
MAX_INT = 2**31 - 1
CallType = WorkflowStep.CallType
# Set by the server on each delivery of a run's message, replacing any forwarded copy.
RUN_ID_HEADER = "Upstash-Workflow-Runid"
CREATED_AT_HEADER = "Upstash-Workflow-Createdat"
# A run started by POST /v2/trigger waits for the SDK to trigger it again with this header.
TRIGGER_BY_SDK = "upstash-workflow-trigger-by-sdk"
REST_TRIGGER = "rest_trigger"
NOT_A_WORKFLOW_ERROR = "not_a_workflow_error"  # in the config: the trigger's own wording


def accept(tenant, message, options: PublishOptions, now: datetime) -> str | None:
    """Tie a message published with workflow headers to its run. Returns the message id of
    what the run already has when this repeats it (a trigger, or a step: deduplicated, also
    once the run has ended), else None. Appending a new step to a run that has ended (or never
    existed) is a 400, which the SDK reads as "the workflow was finished"."""
    workflow = options.workflow
    run_id = workflow[WORKFLOW_RUN_ID]
    if workflow.get(INIT, "").lower() == "true":
        return _trigger(tenant, message, options, run_id, now)
    if workflow.get(CALL_TYPE) == CallType.TO_CALLBACK:
        # context.call: the request to the third party; its callback comes back as a step.
        run = running(tenant.pk, run_id)
        headers = options.callback.headers if options.callback else {}
        _append(run, message.id, message.body, CallType.TO_CALLBACK, now, header_fields(headers))
        return None
    run = _locked(tenant.pk, run_id)
    steps = list(run.steps.defer("body").order_by("id"))
    fields = body_fields(message.body)
    if repeated := _same_step(steps, fields):
        return repeated
    _require_running(run)
    _append(run, message.id, message.body, CallType.STEP, now, fields)
    apply_run_config(run, message, retries_given=options.retries is not None)
    message.body = delivered.COMPOSED
    return None


def running(tenant_id: int, run_id: str) -> WorkflowRun:
    run = _locked(tenant_id, run_id)
    _require_running(run)
    return run


def _locked(tenant_id: int, run_id: str) -> WorkflowRun:
    run = (WorkflowRun.objects.select_for_update()
           .filter(tenant_id=tenant_id, run_id=run_id).first())
    if run is None:
        raise BadRequest(f"workflow run {run_id} does not exist")
    return run


def _require_running(run: WorkflowRun) -> None:
    if not run.is_running:
        raise BadRequest(f"workflow run {run.run_id} has already finished ({run.state})")


def _same_step(steps: list[WorkflowStep], fields: dict) -> str | None:
    """The message id of the step the run already has under this step id and name. A step
    delivery that went out twice (at-least-once: its answer was lost) runs the step twice,
    and the SDK publishes the same step again; appending it would fork the run, whose later
    deliveries would each carry the step twice. Parallel plan steps all have step id 0."""
    if fields.get("step_id", 0) <= 0:
        return None
    return next((step.message_id for step in steps
                 if step.call_type == CallType.STEP and step.step_id == fields["step_id"]
                 and step.step_name == fields["step_name"]), None)


def _trigger(tenant, message, options: PublishOptions, run_id: str, now: datetime) -> str | None:
    existing = WorkflowRun.objects.filter(tenant=tenant, run_id=run_id).first()
    if existing is not None:
        if options.workflow.get(TRIGGER_BY_SDK, "").lower() == "true":
            return _adopt(existing, message, options)
        return existing.init_message_id
    config = _config(message, options)
    invoked = invocation(message, options)
    if invoked is not None:
        config["invoke"] = invoked.request
    run = WorkflowRun(
        tenant=tenant, run_id=run_id, url=message.url,
        initial_body=invoked.initial_body if invoked else bytes(message.body),
        config=config, labels=list(message.labels), invoker=invoked and invoked.invoker,
        label_index=message.label_index, flow_control_key=message.flow_control_key,
        init_message_id=message.id, created_at=now)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:  # the same run id triggered at the same moment
        return WorkflowRun.objects.get(tenant=tenant, run_id=run_id).init_message_id
    _mark(run, message)
    message.body = delivered.COMPOSED
    return None


def _adopt(run: WorkflowRun, message, options: PublishOptions) -> str | None:
    """The SDK's answer to a REST-triggered run's first delivery: its own trigger of that
    run, with its protocol headers, becomes the run's first step delivery; what the REST
    trigger set (retries, failure callback, flow control, …) stays."""
    run = WorkflowRun.objects.select_for_update().get(pk=run.pk)
    rest = run.config
    if not run.is_running or not rest.get(REST_TRIGGER):
        return run.init_message_id
    sdk = _config(message, options)
    kept = {key: value for key, value in rest.items()
            if key not in (REST_TRIGGER, NOT_A_WORKFLOW_ERROR, "features")
            and value not in (None, "", [], {})}
    run.config = {**sdk, **kept, "headers": {**rest.get("headers", {}), **sdk["headers"]}}
    run.save(update_fields=["config"])
    apply_run_config(run, message, retries_given=options.retries is not None)
    message.body = history.delivered_body(history.entries(run, history.load(run)))
    return None


def _config(message, options: PublishOptions) -> dict:
    """What the trigger said about delivery, applied to every later step message (the SDK
    announces WF_TriggerOnConfig and no longer repeats it)."""
    config: dict = {"headers": dict(message.headers), "retries": options.retries,
                    "retry_delay": message.retry_delay_expression,
                    "timeout_seconds": message.timeout_seconds,
                    "redact_fields": list(message.redact_fields),
                    "features": options.workflow.get("upstash-feature-set", "")}
    if message.flow_control_key:
        config["flow_control"] = {
            "key": message.flow_control_key, "parallelism": message.flow_control_parallelism,
            "rate": message.flow_control_rate, "period": message.flow_control_period}
    if message.failure_callback:
        config["failure_callback"] = {
            "url": message.failure_callback, "headers": message.failure_callback_headers,
            "options": message.failure_callback_options}
    return config


def apply_run_config(run: WorkflowRun, message, *, retries_given: bool) -> None:
    """The run's trigger-time settings, where the message does not set its own."""
    config = run.config
    if not retries_given and config.get("retries") is not None:
        message.max_retries = config["retries"]
    if not message.retry_delay_expression:
        message.retry_delay_expression = config.get("retry_delay") or ""
    if not message.timeout_seconds:
        message.timeout_seconds = config.get("timeout_seconds")
    if not message.flow_control_key and (flow := config.get("flow_control")):
        message.flow_control_key = flow["key"]
        message.flow_control_parallelism = flow["parallelism"]
        message.flow_control_rate = flow["rate"]
        message.flow_control_period = flow["period"]
    if not message.failure_callback and (failure := config.get("failure_callback")):
        message.failure_callback = failure["url"]
        message.failure_callback_headers = failure["headers"]
        message.failure_callback_options = failure["options"]
    if not message.labels and run.labels:
        message.labels, message.label_index = list(run.labels), run.label_index
    if not message.redact_fields:
        message.redact_fields = list(config.get("redact_fields") or [])
    message.headers = {**(config.get("headers") or {}), **message.headers}
    _mark(run, message)


def _mark(run: WorkflowRun, message) -> None:
    """A step delivery of ``run``: its failure fails the run; it carries the run's headers."""
    message.workflow_run_id = run.run_id
    message.headers = {**message.headers, RUN_ID_HEADER: [run.run_id],
                       CREATED_AT_HEADER: [str(clock.to_ms(run.created_at))]}


def _append(run: WorkflowRun, message_id: str, body, call_type: str, now: datetime,
            fields: dict) -> WorkflowStep:
    step = WorkflowStep(run=run, message_id=message_id, call_type=call_type, body=bytes(body),
                        created_at=now, **fields)
    step.save()
    return step


def attach_callback(callback, workflow: dict[str, str], now: datetime) -> None:
    """A callback or failure callback that names a run (``Upstash-Callback-Workflow-RunId``):
    a context.call result comes back as a step of the run, a failure callback carries the
    run's id, creation time and initial body as the failure function reads them."""
    run = (WorkflowRun.objects.select_for_update()
           .filter(tenant_id=callback.tenant_id, run_id=workflow[WORKFLOW_RUN_ID]).first())
    if run is None:
        return  # the run is gone: an ordinary callback
    if workflow.get(CALL_TYPE) == "failureCall":
        callback.body = failure_body(run, bytes(callback.body))
        callback.headers = {**callback.headers, RUN_ID_HEADER: [run.run_id],
                            CREATED_AT_HEADER: [str(clock.to_ms(run.created_at))]}
        WorkflowRun.objects.filter(pk=run.pk).update(failure_message_id=callback.id)
        return
    result = bytes(callback.body)
    if run.is_running:
        _append(run, callback.id, result, CallType.FROM_CALLBACK, now,
                header_fields(callback.headers))
    apply_run_config(run, callback, retries_given=False)
    # The SDK reads the call's result from element 0 of a callback delivery. Always inline:
    # with an empty body it would fetch the history, whose element 0 is the initial body.
    callback.body = history.encode([history.entry(callback.id, result, CallType.FROM_CALLBACK)])


def failure_body(run: WorkflowRun, body: bytes) -> bytes:
    try:
        payload = strict_json.loads(body)
    except ValueError:
        return body
    payload.update(workflowRunId=run.run_id, workflowCreatedAt=clock.to_ms(run.created_at),
                   sourceBody=base64.b64encode(bytes(run.initial_body)).decode(), url=run.url)
    return json.dumps(payload, separators=(",", ":")).encode()


def mark_failed(tenant_id: int, run_id: str, dlq_id: str, now: datetime) -> bool:
    """A step message ran out of retries: the run has failed (True if it was running)."""
    failed = WorkflowRun.objects.filter(tenant_id=tenant_id, run_id=run_id,
                                        state=WorkflowRun.State.STARTED).update(
        state=WorkflowRun.State.FAILED, dlq_id=dlq_id, completed_at=now)
    WorkflowWaiter.objects.filter(tenant_id=tenant_id, run__run_id=run_id).delete()
    return bool(failed)


NOT_A_WORKFLOW = ("detected a non-workflow destination for trigger/invoke. make sure you are "
                  "sending the request to the correct endpoint")


def not_a_workflow_endpoint(message, now: datetime) -> bool:
    """The trigger's delivery was answered without the SDK's protocol version header: with
    WF_DetectTrigger announced, the run fails instead of waiting forever for a step (True
    if it did)."""
    run = WorkflowRun.objects.filter(tenant_id=message.tenant_id, run_id=message.workflow_run_id,
                                     init_message_id=message.id,
                                     state=WorkflowRun.State.STARTED).first()
    if run is None or "WF_DetectTrigger" not in run.config.get("features", ""):
        return False
    return bool(WorkflowRun.objects.filter(pk=run.pk, state=WorkflowRun.State.STARTED).update(
        state=WorkflowRun.State.FAILED, completed_at=now,
        error=run.config.get(NOT_A_WORKFLOW_ERROR) or NOT_A_WORKFLOW))


def _int(value, default: int) -> int:
    try:
        number = int(value)
    except (TypeError, ValueError, OverflowError):  # OverflowError: int(float("inf"))
        return default
    return number if -MAX_INT <= number <= MAX_INT else default


def body_fields(body) -> dict:
    """Step id, name, type and parallelism of a step the SDK published (JSON)."""
    try:
        step = strict_json.loads(bytes(body))
    except ValueError:
        return {}
    if not isinstance(step, dict) or json_flaw(step):  # its name and type are stored as text
        return {}
    return {"step_id": _int(step.get("stepId"), 0), "step_name": str(step.get("stepName") or ""),
            "step_type": str(step.get("stepType") or "")[:40],
            "concurrent": _int(step.get("concurrent"), 1),
            "target_step": _int(step.get("targetStep"), 0)}


def header_fields(headers: dict[str, list[str]]) -> dict:
    """The same, for context.call, from the headers the SDK forwards to the callback."""
    def first(name: str) -> str:
        values = headers.get(name) or [""]
        return values[0]
    return {"step_id": _int(first("Upstash-Workflow-Stepid"), 0),
            "step_name": first("Upstash-Workflow-Stepname"),
            "step_type": first("Upstash-Workflow-Steptype")[:40],
            "concurrent": _int(first("Upstash-Workflow-Concurrent"), 1)}
