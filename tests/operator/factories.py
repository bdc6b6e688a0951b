"""Rows in a given state, written directly: admin and command tests need history, not traffic."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

from django_qstash.core import clock, ids
from django_qstash.models import (
    DeliveryAttempt,
    DlqEntry,
    Event,
    Message,
    WorkflowRun,
    WorkflowStep,
)

FINISHED = ("delivered", "failed", "canceled")


def make_message(tenant, *, url: str = "https://example.com/hook", status: str = "delivered",
                 age: timedelta = timedelta(0), body: bytes = b'{"hello": "world"}',
                 **fields) -> Message:
    at = clock.now() - age
    message = Message.objects.create(
        id=ids.message_id(), tenant=tenant, url=url, not_before=at, created_at=at,
        status=status, finished_at=at if status in FINISHED else None,
        headers={"Content-Type": ["application/json"]}, body=body, **fields)
    Event.objects.create(tenant=tenant, message_id=message.id, state="CREATED", time=at, url=url,
                         queue_name=message.queue_name)
    if status != "pending":
        Event.objects.create(tenant=tenant, message_id=message.id, state=status.upper(),
                             time=at, url=url, queue_name=message.queue_name)
    return message


def make_dlq(tenant, *, status: int = 500, age: timedelta = timedelta(0), **fields) -> DlqEntry:
    message = make_message(tenant, status="failed", age=age, **fields)
    at = clock.now() - age
    DeliveryAttempt.objects.create(
        message=message, retried=0, started_at=at, duration_ms=12, response_status=status,
        response_headers={"X-Upstream": ["boom"]}, response_body=b"upstream exploded",
        error=f"destination answered {status}")
    return DlqEntry.objects.create(
        dlq_id=ids.dlq_id(), tenant=tenant, message=message, response_status=status,
        response_headers={"X-Upstream": ["boom"]}, response_body=b"upstream exploded",
        error=f"destination answered {status}", created_at=at)


def make_run(tenant, *, run_id: str = "", failed: bool = False, url: str = "",
             labels: tuple[str, ...] = ()) -> WorkflowRun:
    """A workflow run as the SDK leaves it: a trigger, a step, a context.call (both legs),
    then either a pending next step or, ``failed``, a step in the DLQ."""
    url = url or f"https://{tenant.name}.example.com/wf"
    run_id = run_id or f"wfr_{ids.base58(20)}"
    now = clock.now()
    trigger = make_message(tenant, url=url, workflow_run_id=run_id)
    run = WorkflowRun.objects.create(
        tenant=tenant, run_id=run_id, url=url, initial_body=b'{"order": 7}',
        config={"retries": 0, "headers": {}}, labels=list(labels),
        label_index=f",{','.join(labels)}," if labels else "", init_message_id=trigger.id,
        created_at=now)
    first = make_message(tenant, url=url, workflow_run_id=run_id)
    WorkflowStep.objects.create(run=run, message_id=first.id, step_id=1, step_name="first",
                                step_type="Run", created_at=now, body=json.dumps(
                                    {"stepId": 1, "stepName": "first", "stepType": "Run",
                                     "out": json.dumps("first-output")}).encode())
    call = make_message(tenant, url="https://third.example.com/ask", body=b'{"q": "why"}')
    WorkflowStep.objects.create(run=run, message_id=call.id, call_type="toCallback", step_id=2,
                                step_name="ask", step_type="Call", created_at=now)
    answer = {"status": 201, "header": {"X-Answer": ["yes"]},
              "body": base64.b64encode(b'{"answer": "because"}').decode()}
    result = make_message(tenant, url=url, workflow_run_id=run_id)
    WorkflowStep.objects.create(run=run, message_id=result.id, call_type="fromCallback",
                                step_id=2, step_name="ask", step_type="Call", created_at=now,
                                body=json.dumps(answer).encode())
    if failed:
        entry = make_dlq(tenant, url=url, workflow_run_id=run_id)
        WorkflowStep.objects.create(run=run, message_id=entry.message_id, step_id=3,
                                    step_name="breaks", step_type="Run", created_at=now,
                                    body=b'{"stepId": 3, "stepName": "breaks", "out": "1"}')
        run.state, run.dlq_id, run.completed_at = WorkflowRun.State.FAILED, entry.dlq_id, now
        run.save()
    else:
        make_message(tenant, url=url, status="pending", workflow_run_id=run_id)
    return run
