"""The DLQ as the Workflow SDK reads it (``source=workflow``): failed steps with their runs."""

from __future__ import annotations

from django.db.models import QuerySet

from django_qstash.api.filters import integer, multi
from django_qstash.api.serializers import dlq_json, shown_headers
from django_qstash.api.workflow_logs import CALLBACK_STATES
from django_qstash.core import clock
from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.engine.workflow.steps import CREATED_AT_HEADER
from django_qstash.exceptions import BadRequest
from django_qstash.models import DeliveryAttempt, DlqEntry, Message, WorkflowRun

# Query parameters of the workflow DLQ beside the DLQ's own.
FILTERS = {"source", "workflowUrl", "workflowRunId", "workflowCreatedAt",
           "failureFunctionState"}
STATUSES_OF = {state: {s for s, st in CALLBACK_STATES.items() if st == state}
               for state in set(CALLBACK_STATES.values())}


def only_workflows(entries: QuerySet, tenant, request) -> QuerySet:
    """Entries of failed workflow steps, narrowed by the workflow filters of the request."""
    entries = entries.exclude(message__workflow_run_id="")
    if run_ids := multi(request, "workflowRunId"):
        entries = entries.filter(message__workflow_run_id__in=run_ids)
    # The other filters are about the run: its URL, creation time, failure function.
    runs = WorkflowRun.objects.filter(tenant=tenant)
    narrowed = False
    if urls := multi(request, "workflowUrl"):
        runs, narrowed = runs.filter(url__in=urls), True
    if (created := integer(request, "workflowCreatedAt")) is not None:
        try:
            moment, after = clock.from_ms(created), clock.from_ms(created + 1)
        except (ValueError, OverflowError, OSError):
            raise BadRequest("workflowCreatedAt is out of range: unix milliseconds "
                             "expected") from None
        runs, narrowed = runs.filter(created_at__gte=moment, created_at__lt=after), True
    if states := multi(request, "failureFunctionState"):
        if unknown := set(states) - set(STATUSES_OF):
            raise BadRequest(f"unknown failureFunctionState: {', '.join(sorted(unknown))}")
        statuses = set().union(*(STATUSES_OF[s] for s in states))
        failures = Message.objects.filter(tenant=tenant, kind=Message.Kind.FAILURE_CALLBACK,
                                          status__in=statuses).values("pk")
        runs, narrowed = runs.filter(failure_message_id__in=failures), True
    if narrowed:
        entries = entries.filter(message__workflow_run_id__in=runs.values("run_id"))
    return entries


def entries_json(entries: list[DlqEntry], hide_credentials: bool) -> list[dict]:
    """Each entry as the DLQ shows it; a failed workflow step's with its run and the state
    of the run's failure function."""
    run_ids = {e.message.workflow_run_id for e in entries} - {""}
    if not run_ids:
        return [dlq_json(e, hide_credentials) for e in entries]
    fill_bodies([e.message for e in entries])  # failed steps show the bodies they were sent with
    runs = {run.run_id: run for run in WorkflowRun.objects.filter(
        tenant_id=entries[0].tenant_id, run_id__in=run_ids)}
    failures = {m.pk: m for m in Message.objects.filter(
        tenant_id=entries[0].tenant_id,
        pk__in=[r.failure_message_id for r in runs.values() if r.failure_message_id]
    ).only("id", "status")}
    last_attempts = _last_attempts(list(failures))
    return [entry_json(e, runs.get(e.message.workflow_run_id), failures, last_attempts,
                       hide_credentials) for e in entries]


def _last_attempts(message_ids: list[str]) -> dict[str, DeliveryAttempt]:
    """The latest attempt of each message: one query for a page, not one per entry."""
    last: dict[str, DeliveryAttempt] = {}
    for attempt in (DeliveryAttempt.objects.filter(message_id__in=message_ids)
                    .order_by("started_at", "id")):
        last[attempt.message_id] = attempt
    return last


def entry_json(entry: DlqEntry, run: WorkflowRun | None, failures: dict[str, Message],
               last_attempts: dict[str, DeliveryAttempt], hide_credentials: bool) -> dict:
    message = entry.message
    data = dlq_json(entry, hide_credentials)
    if not message.workflow_run_id:
        return data
    data["workflowRunId"] = message.workflow_run_id
    data["workflowUrl"] = run.url if run else message.url
    if run is not None:
        data["workflowCreatedAt"] = clock.to_ms(run.created_at)
    else:  # the run is purged: its delivery still says when it was created
        stamped = (message.headers or {}).get(CREATED_AT_HEADER) or ["0"]
        data["workflowCreatedAt"] = int(stamped[0]) if stamped[0].isdigit() else 0
    failure = failures.get(run.failure_message_id) if run else None
    if failure is not None:
        data["failureCallbackInfo"] = _failure_info(failure, last_attempts.get(failure.pk),
                                                    hide_credentials)
    return data


def _failure_info(failure: Message, last: DeliveryAttempt | None,
                  hide_credentials: bool) -> dict:
    info: dict = {"state": CALLBACK_STATES.get(failure.status, "CALLBACK_INPROGRESS")}
    if last is not None:
        info.update(responseStatus=last.response_status or 0,
                    responseBody=bytes(last.response_body).decode("utf-8", errors="replace"),
                    responseHeaders=shown_headers(last.response_headers, None,
                                                  hide_credentials))
    return info
