"""A run as GET /v2/workflows/logs (and /events?groupBy=workflowRunId) shows it."""

from __future__ import annotations

from django_qstash.api.serializers import is_body_redacted, redact_value, shown_headers
from django_qstash.core import clock, strict_json
from django_qstash.models import DeliveryAttempt, DlqEntry, Message, WorkflowRun, WorkflowStep

CallType = WorkflowStep.CallType
UNDELIVERED = (Message.Status.PENDING, Message.Status.ACTIVE)
CALLBACK_STATES = {
    Message.Status.PENDING: "CALLBACK_INPROGRESS", Message.Status.ACTIVE: "CALLBACK_INPROGRESS",
    Message.Status.DELIVERED: "CALLBACK_SUCCESS", Message.Status.FAILED: "CALLBACK_FAIL",
    Message.Status.CANCELED: "CALLBACK_CANCELED",
}


def _text(body) -> str:
    return bytes(body).decode("utf-8", errors="replace")


class View:
    """How much of a run the caller may see: its own redactions, credentials for read-only
    tokens hidden."""

    def __init__(self, run: WorkflowRun, hide_credentials: bool) -> None:
        self.redact = list(run.config.get("redact_fields") or [])
        self.body_redacted = is_body_redacted(self.redact)
        self.hide_credentials = hide_credentials

    def body(self, text):
        if self.body_redacted and isinstance(text, str):
            return redact_value(text)
        return text


def _step_json(run: WorkflowRun, step: WorkflowStep, retries: int, view: View) -> dict:
    try:
        published = strict_json.loads(bytes(step.body))
    except ValueError:
        published = {}
    if not isinstance(published, dict):
        published = {}
    data = {"stepId": step.step_id, "stepName": step.step_name, "stepType": step.step_type,
            "callType": step.call_type, "messageId": step.message_id,
            "out": view.body(published.get("out")), "concurrent": step.concurrent,
            "state": "STEP_SUCCESS", "createdAt": clock.to_ms(step.created_at),
            "retries": retries, "headers": {}}
    for name in ("sleepFor", "sleepUntil"):
        if name in published:
            data[name] = published[name]
    return data


def _json_or_text(text: str):
    try:
        return strict_json.loads(text)
    except ValueError:
        return text


def _call_details(step: WorkflowStep, out, view: View) -> dict:
    """What context.call sent (its request message) and what came back (the result step)."""
    data: dict = {}
    request = Message.objects.filter(pk=step.message_id).only(
        "url", "method", "headers", "body", "redact_fields").first()
    if request is not None:
        body = _text(request.body)
        data.update(callUrl=request.url, callMethod=request.method,
                    callHeaders=shown_headers(request.headers, request.redact_fields,
                                              view.hide_credentials),
                    callBody=redact_value(body) if is_body_redacted(request.redact_fields)
                    else _json_or_text(body))
    response = _json_or_text(out) if isinstance(out, str) and not view.body_redacted else None
    if isinstance(response, dict):
        data.update(callResponseStatus=response.get("status"),
                    callResponseBody=_json_or_text(response.get("body") or ""),
                    callResponseHeaders=response.get("header") or {})
    return data


def _groups(run: WorkflowRun, steps: list[WorkflowStep], retries: int,
            view: View) -> list[dict]:
    """The initial body, then each completed step: one at a time ("sequential") or the
    results of one Promise.all together ("parallel")."""
    groups: list[dict] = [{"type": "sequential", "steps": [{
        "stepId": 0, "stepName": "init", "stepType": "Initial", "callType": "step",
        "messageId": run.init_message_id, "out": view.body(_text(run.initial_body)),
        "concurrent": 1,
        "state": "STEP_SUCCESS", "createdAt": clock.to_ms(run.created_at),
        "retries": retries, "headers": {}}]}]
    open_parallel: dict | None = None
    calls = {s.step_id: s for s in steps if s.call_type == CallType.TO_CALLBACK}
    for step in steps:
        if step.call_type != CallType.STEP or step.step_id == 0:
            continue  # plan steps and the context.call legs are not results
        item = _step_json(run, step, retries, view)
        if step.step_type == "Call" and step.step_id in calls:
            item.update(_call_details(calls[step.step_id], item["out"], view))
        if step.concurrent <= 1:
            groups.append({"type": "sequential", "steps": [item]})
            continue
        if open_parallel is None or len(open_parallel["steps"]) >= step.concurrent:
            open_parallel = {"type": "parallel", "steps": []}
            groups.append(open_parallel)
        open_parallel["steps"].append(item)
    return groups


def _errors(message: Message) -> list[dict]:
    attempts = DeliveryAttempt.objects.filter(message=message).order_by("started_at")
    return [{"error": a.error, "body": _text(a.response_body), "headers": a.response_headers,
             "status": a.response_status or 0, "time": clock.to_ms(a.started_at)}
            for a in attempts if a.error]


def _rejected_trigger(run: WorkflowRun) -> dict:
    """The run failed on its trigger's answer: the delivery itself succeeded."""
    attempt = DeliveryAttempt.objects.filter(message_id=run.init_message_id).order_by(
        "-started_at").first()
    error = {"error": run.error, "body": _text(attempt.response_body) if attempt else "",
             "headers": attempt.response_headers if attempt else {},
             "status": (attempt.response_status or 0) if attempt else 0,
             "time": clock.to_ms(attempt.started_at if attempt else run.completed_at)}
    return {"type": "next", "steps": [{"messageId": run.init_message_id,
                                       "state": "STEP_FAILED", "retries": 0,
                                       "errors": [error]}]}


def _next_group(run: WorkflowRun) -> dict | None:
    if run.error:
        return _rejected_trigger(run)
    messages = list(Message.objects.filter(tenant_id=run.tenant_id, workflow_run_id=run.run_id)
                    .filter(status__in=[*UNDELIVERED, Message.Status.FAILED])
                    .defer("body").order_by("created_at"))
    if not messages:
        return None
    steps = []
    for message in messages:
        if message.status == Message.Status.FAILED:
            state = "STEP_FAILED"
        else:
            state = "STEP_RETRY" if message.retried else "STEP_PROGRESS"
        item = {"messageId": message.id, "state": state, "retries": message.max_retries}
        if message.retry_delay_expression:
            item["retryDelay"] = message.retry_delay_expression
        if errors := _errors(message):
            item["errors"] = errors
        steps.append(item)
    return {"type": "next", "steps": steps}


def _failure_function(run: WorkflowRun) -> dict | None:
    message = Message.objects.filter(tenant_id=run.tenant_id, pk=run.failure_message_id).first()
    if message is None:
        return None
    entry = DlqEntry.objects.filter(tenant_id=run.tenant_id, dlq_id=run.dlq_id).first()
    data = {"messageId": message.id, "url": message.url,
            "state": CALLBACK_STATES.get(message.status, "CALLBACK_INPROGRESS"),
            "failHeaders": entry.response_headers if entry else {},
            "failStatus": entry.response_status if entry else 0,
            "failResponse": _text(entry.response_body) if entry else "",
            "dlqId": run.dlq_id}
    last = DeliveryAttempt.objects.filter(message=message).order_by("-started_at").first()
    if last is not None:
        data.update(responseStatus=last.response_status or 0,
                    responseHeaders=last.response_headers,
                    responseBody=_text(last.response_body))
    if errors := _errors(message):
        data["errors"] = errors
    return data


def run_json(run: WorkflowRun, hide_credentials: bool = False) -> dict:
    steps = list(run.steps.order_by("id"))
    view = View(run, hide_credentials)
    retries = run.config.get("retries")
    retries = 3 if retries is None else retries
    data: dict = {
        "workflowRunId": run.run_id, "workflowUrl": run.url, "workflowState": run.state,
        "workflowRunCreatedAt": clock.to_ms(run.created_at),
        "steps": _groups(run, steps, retries, view), "labels": list(run.labels),
    }
    if run.labels:
        data["label"] = run.labels[0]
    if run.completed_at:
        data["workflowRunCompletedAt"] = clock.to_ms(run.completed_at)
    if run.result is not None:
        data["workflowRunResponse"] = view.body(run.result)
    if run.invoker:
        data["invoker"] = run.invoker
    if run.dlq_id:
        data["dlqId"] = run.dlq_id
    if run.state in (WorkflowRun.State.STARTED, WorkflowRun.State.FAILED) and (
            following := _next_group(run)) is not None:
        data["steps"].append(following)
    if run.failure_message_id and (failure := _failure_function(run)):
        data["failureFunction"] = failure
    return data
