"""context.waitForEvent: waiters, notify (broadcast, or to one run with lookback), timeouts.

Notifying or timing out appends the wait step's result to the run the way the SDK appends a
step, by publishing it with the headers the SDK gave the wait, so history, config and
delivery work as for every other step."""

from __future__ import annotations

import base64
import json
import math
from datetime import datetime, timedelta

from django.db import transaction

from django_qstash.core import clock
from django_qstash.core.durations import DurationError, parse_duration
from django_qstash.core.request_headers import WORKFLOW_RUN_ID, parse_publish_headers
from django_qstash.engine.workflow.steps import running
from django_qstash.exceptions import ApiError, BadRequest
from django_qstash.models import Tenant, WorkflowEvent, WorkflowRun, WorkflowWaiter

MAX_WAIT_SECONDS = 365 * 24 * 3600
STEP_FIELDS = ("stepId", "stepName", "stepType", "concurrent", "targetStep")
# Expired waiters are looked for at most this often: one query per dispatcher tick otherwise.
EXPIRY_CHECK_SECONDS = 1.0


def _timeout_seconds(value) -> int:
    if isinstance(value, bool):
        raise BadRequest("timeout must be a duration such as 10d, or seconds")
    if isinstance(value, (int, float)) and 0 <= value < math.inf:
        seconds = int(value)
    elif isinstance(value, str):
        try:
            seconds = parse_duration(value)
        except DurationError as exc:
            raise BadRequest(f"timeout: {exc}") from None
    else:
        raise BadRequest("timeout must be a duration such as 10d, or seconds")
    if seconds > MAX_WAIT_SECONDS:
        raise BadRequest("timeout is longer than a year")
    return seconds


def _pairs(headers) -> list[tuple[str, str]]:
    if not isinstance(headers, dict) or not all(
            isinstance(v, list) and all(isinstance(i, str) for i in v) for v in headers.values()):
        raise BadRequest('timeoutHeaders must be {"Name": ["values"]}')
    return [(str(name), value) for name, values in headers.items() for value in values]


def wait(tenant: Tenant, event_id: str, pairs: list[tuple[str, str]], body) -> None:
    """POST /v2/wait/{eventId}: the run of the request's workflow headers waits for the event.
    An event notified to this run before (lookback) resumes it at once."""
    if not isinstance(body, dict) or not isinstance(body.get("url"), str) or \
            not isinstance(body.get("step"), dict):
        raise BadRequest("body must be {url, timeout, step, timeoutUrl?, timeoutHeaders?}")
    options = parse_publish_headers(pairs)
    run_id = options.workflow.get(WORKFLOW_RUN_ID)
    if not run_id:
        raise BadRequest("Upstash-Workflow-RunId is required")
    step = {key: body["step"][key] for key in STEP_FIELDS if key in body["step"]}
    timeout_pairs = _pairs(body.get("timeoutHeaders") or {})
    parse_publish_headers(timeout_pairs)  # refused now rather than when the deadline comes
    timeout_body = body.get("timeoutBody")
    now = clock.now()
    kept = [(name, value) for name, value in pairs
            if name.lower().startswith("upstash-") or name.lower() == "content-type"]
    with transaction.atomic():
        run = running(tenant.pk, run_id)
        waiter = WorkflowWaiter.objects.create(
            tenant=tenant, run=run, event_id=event_id, step=step, url=body["url"],
            headers=kept, timeout_url=str(body.get("timeoutUrl") or ""),
            timeout_headers=body.get("timeoutHeaders") or {},
            timeout_body=None if timeout_body is None else str(timeout_body),
            deadline=now + timedelta(seconds=_timeout_seconds(body.get("timeout", "7d"))),
            created_at=now)
        early = (WorkflowEvent.objects.select_for_update()
                 .filter(run=run, event_id=event_id).order_by("id").first())
        if early is not None:
            early.delete()
            _resume(waiter, bytes(early.data), timed_out=False)


def waiter_json(waiter: WorkflowWaiter) -> dict:
    data = {"url": waiter.url, "deadline": clock.to_ms(waiter.deadline),
            "headers": _as_map(waiter.headers), "timeoutUrl": waiter.timeout_url,
            "timeoutHeaders": waiter.timeout_headers}
    if waiter.timeout_body is not None:
        data["timeoutBody"] = waiter.timeout_body
    return data


def _as_map(pairs: list) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(name, []).append(value)
    return result


def notify(tenant: Tenant, event_id: str, data: bytes, run_id: str | None = None, *,
           one: bool = False) -> list[dict]:
    """Resume every run waiting for ``event_id`` (only ``run_id``'s when given); a run that
    does not wait yet keeps the event until it does (lookback), others lose it. With ``one``
    only the oldest wait is resumed: a webhook call is one request, for one waitForWebhook
    (a run waiting on the same webhook in parallel takes a call per wait)."""
    results = []
    with transaction.atomic():
        waiters = WorkflowWaiter.objects.select_for_update().filter(
            tenant=tenant, event_id=event_id).select_related("run").order_by("id")
        if run_id is not None:
            waiters = waiters.filter(run__run_id=run_id)
        for waiter in list(waiters):
            result = {"waiter": waiter_json(waiter), "deduplicated": False,
                      "workflowRunId": waiter.run.run_id,
                      "workflowCreatedAt": clock.to_ms(waiter.run.created_at)}
            try:
                with transaction.atomic():
                    result["messageId"] = _resume(waiter, data, timed_out=False)
            except ApiError as exc:  # the run ended meanwhile: its waiter goes
                WorkflowWaiter.objects.filter(pk=waiter.pk).delete()
                result.update(messageId="", error=exc.message)
            results.append(result)
            if one and result["messageId"]:
                break
        if run_id is not None and not results:
            run = WorkflowRun.objects.filter(tenant=tenant, run_id=run_id,
                                             state=WorkflowRun.State.STARTED).first()
            if run is not None:
                WorkflowEvent.objects.create(tenant=tenant, run=run, event_id=event_id,
                                             data=data, created_at=clock.now())
    return results


def _resume(waiter: WorkflowWaiter, data: bytes | None, *, timed_out: bool) -> str:
    """Append the wait step's result to the run and deliver it; the waiter is done."""
    # Imported here: publishing reaches the workflow engine (lazily) too.
    from django_qstash.engine.publishing import prepare, publish_specs

    step = dict(waiter.step)
    if data is not None:
        step["out"] = base64.b64encode(data).decode()
    step["waitTimeout"] = timed_out
    if timed_out and waiter.timeout_url:
        url, pairs = waiter.timeout_url, _pairs(waiter.timeout_headers)
    else:
        url, pairs = waiter.url, [tuple(pair) for pair in waiter.headers]
    tenant = waiter.tenant
    waiter.delete()
    spec = prepare(tenant, url, json.dumps(step, separators=(",", ":")).encode(), pairs)
    return publish_specs(tenant, [spec])[0].message_id


def waiters_of(tenant: Tenant, event_id: str) -> list[dict]:
    return [waiter_json(w) for w in WorkflowWaiter.objects.filter(tenant=tenant,
                                                                   event_id=event_id)]


def drop_waiters(run_pks: list[int]) -> None:
    """An ended run waits for nothing."""
    WorkflowWaiter.objects.filter(run_id__in=run_pks).delete()
    WorkflowEvent.objects.filter(run_id__in=run_pks).delete()


class ExpireWaiters:
    """A dispatcher tick hook: waiters past their deadline resume with waitTimeout: true."""

    def __init__(self) -> None:
        self.next_check: datetime | None = None

    def __call__(self, now: datetime) -> None:
        if self.next_check is not None and now < self.next_check:
            return
        self.next_check = now + timedelta(seconds=EXPIRY_CHECK_SECONDS)
        expire_due(now)


def expire_due(now: datetime, limit: int = 100) -> int:
    expired = 0
    with transaction.atomic():
        due = list(WorkflowWaiter.objects.select_for_update(skip_locked=True)
                   .filter(deadline__lte=now).select_related("run", "tenant")
                   .order_by("deadline")[:limit])
        for waiter in due:
            try:
                with transaction.atomic():
                    _resume(waiter, None, timed_out=True)
            except ApiError:  # the run has ended: nothing to resume
                WorkflowWaiter.objects.filter(pk=waiter.pk).delete()
            expired += 1
    return expired
