"""Workflow runs: their history (LazyFetch), ending and cancelling them, their logs; waiting
for events and notifying them."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpResponse
from rest_framework.response import Response

from django_qstash.api.base import QStashView, header_pairs, json_body, raw_body
from django_qstash.api.filters import check_known, cursor_page, integer, is_number, multi
from django_qstash.api.lean import json_response
from django_qstash.api.workflow_logs import run_json
from django_qstash.core.clock import from_ms
from django_qstash.engine.workflow import history, runs, waits
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import WorkflowRun

PAGE_MAX = 100
LOG_FILTERS = {"cursor", "count", "groupBy", "workflowRunId", "workflowUrl",
               "workflowUrlExactMatch", "workflowCreatedAt", "state", "label", "flowControlKey",
               "fromDate", "toDate", "trimBody", "messageId"}
CANCEL_FILTERS = {"cursor", "count", "workflowRunIds", "workflowUrl", "workflowUrlExactMatch",
                  "label", "flowControlKey", "fromDate", "toDate", "all"}
STATES = set(WorkflowRun.State.values)


def _flag(request, name: str) -> bool:
    return (request.GET.get(name) or "").strip().lower() == "true"


def filtered_runs(tenant, request):
    """Runs of ``tenant`` matching the query string's filters, newest first."""
    found = WorkflowRun.objects.filter(tenant=tenant)
    if run_ids := multi(request, "workflowRunId") or multi(request, "workflowRunIds"):
        found = found.filter(run_id__in=run_ids)
    if url := (request.GET.get("workflowUrl") or "").strip():
        found = found.filter(url=url) if _flag(request, "workflowUrlExactMatch") else \
            found.filter(url__startswith=url)
    if states := multi(request, "state"):
        if unknown := set(states) - STATES:
            raise BadRequest(f"unknown state: {', '.join(sorted(unknown))}")
        found = found.filter(state__in=states)
    if labels := multi(request, "label"):
        condition = Q()
        for label in labels:
            condition |= Q(label_index__contains=f",{label},")
        found = found.filter(condition)
    if keys := multi(request, "flowControlKey"):
        found = found.filter(flow_control_key__in=keys)
    if (created := integer(request, "workflowCreatedAt")) is not None:
        found = found.filter(created_at__gte=_moment(created, "workflowCreatedAt"),
                             created_at__lt=_moment(created + 1, "workflowCreatedAt"))
    for name, lookup in (("fromDate", "gte"), ("toDate", "lte")):
        if (ms := integer(request, name)) is not None:
            found = found.filter(**{f"created_at__{lookup}": _moment(ms, name)})
    if message_ids := multi(request, "messageId"):
        found = found.filter(Q(init_message_id__in=message_ids)
                             | Q(steps__message_id__in=message_ids)).distinct()
    return found


def _moment(ms: int, name: str):
    try:
        return from_ms(ms)
    except (ValueError, OverflowError, OSError):
        raise BadRequest(f"{name} is out of range: unix milliseconds expected") from None


class WorkflowRunView(QStashView):
    def get(self, request, run_id: str):
        """The history the SDK fetches when a delivery came without it (LazyFetch). 404 once
        the run has ended: the SDK then stops."""
        run = WorkflowRun.objects.filter(tenant=self.tenant, run_id=run_id).first()
        if run is None or not run.is_running:
            raise NotFound(f"workflow run {run_id} not found or already finished")
        return HttpResponse(history.encode(history.entries(run, history.load(run))),
                            content_type="application/json")

    def delete(self, request, run_id: str):
        cancel = (request.GET.get("cancel") or "false").strip().lower()
        if cancel not in ("true", "false"):
            raise BadRequest("cancel must be true or false")
        if cancel == "true":
            runs.cancel_one(self.tenant.pk, run_id)
        else:
            body = raw_body(request)
            runs.finish(self.tenant.pk, run_id, body.decode("utf-8", errors="replace")
                        if body else None)
        return HttpResponse(status=200)


class WorkflowRunListView(QStashView):
    def delete(self, request):
        """Bulk cancel: by run ids, URL (prefix, or exact), label, flow-control key, dates;
        no filter at all cancels every running run (a page of ``count`` at a time)."""
        check_known(request, CANCEL_FILTERS)
        cursor = request.GET.get("cursor")
        if cursor and not is_number(cursor):
            raise BadRequest("invalid cursor")
        found = filtered_runs(self.tenant, request).filter(state=WorkflowRun.State.STARTED)
        if not multi(request, "workflowRunIds"):
            count = integer(request, "count", PAGE_MAX, maximum=1000) or PAGE_MAX
            found = WorkflowRun.objects.filter(
                pk__in=list(found.order_by("-id").values_list("pk", flat=True)[:count]))
        return json_response({"cancelled": runs.cancel_runs(found)})


class WorkflowLogsView(QStashView):
    def get(self, request):
        check_known(request, LOG_FILTERS)
        group_by = request.GET.get("groupBy")
        if group_by not in (None, "", "workflowRunId"):
            raise BadRequest("groupBy must be workflowRunId")
        rows, cursor = cursor_page(filtered_runs(self.tenant, request), request,
                                   default=10, maximum=PAGE_MAX)
        return Response({"cursor": cursor or "", "runs": [run_json(run, self.hides_credentials)
                                                    for run in rows]})


class WaitView(QStashView):
    def post(self, request, event_id: str):
        """context.waitForEvent: the step's workflow headers name the run."""
        waits.wait(self.tenant, event_id, header_pairs(request), json_body(request))
        return json_response({})


class NotifyView(QStashView):
    def post(self, request, event_id: str):
        """Every run waiting for the event; lost if none waits."""
        return json_response(waits.notify(self.tenant, event_id, raw_body(request)))


class NotifyRunView(QStashView):
    def post(self, request, run_id: str, event_id: str):
        """One run; kept until it waits for the event (lookback)."""
        return json_response(waits.notify(self.tenant, event_id, raw_body(request), run_id))


class WaitersView(QStashView):
    def get(self, request, event_id: str):
        return json_response(waits.waiters_of(self.tenant, event_id))
