"""The workflow DLQ: list, get and delete failed runs; resume or restart them as new runs;
retry or cancel their failure callback."""

from __future__ import annotations

from rest_framework.response import Response

from django_qstash.api import workflow_dlq
from django_qstash.api.base import QStashView
from django_qstash.api.filters import check_known, cursor_page
from django_qstash.api.lean import json_response
from django_qstash.api.views.dlq import (
    FILTERS,
    filtered_entries,
    ids_from,
    listing,
    override_options,
)
from django_qstash.core import clock
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.workflow import dlq
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import DlqEntry, WorkflowRun

WORKFLOW_FILTERS = FILTERS | workflow_dlq.FILTERS
RUN_ID_MAX = WorkflowRun._meta.get_field("run_id").max_length
# Each revived run is a transaction of its own rows and a delivery: a request does a page.
REVIVE_PAGE = 50


def revived_json(run: WorkflowRun) -> dict:
    return {"workflowRunId": run.run_id, "workflowCreatedAt": clock.to_ms(run.created_at)}


def matching(view: QStashView, request):
    """Workflow entries matching the request's filters, bodies left unread."""
    return workflow_dlq.only_workflows(filtered_entries(view, request), view.tenant, request) \
        .defer("response_body", "message__body")


def named(tenant_id: int, ids: list[str]) -> list[DlqEntry]:
    rows = {e.dlq_id: e for e in dlq.workflow_entries(tenant_id).filter(dlq_id__in=ids)}
    if missing := set(ids) - set(rows):
        raise NotFound(f"workflow DLQ entries not found: {', '.join(sorted(missing))}")
    return [rows[i] for i in dict.fromkeys(ids)]


class WorkflowDlqListView(QStashView):
    def get(self, request):
        return listing(self, request, workflows=True)

    def delete(self, request):
        """By ``dlqIds``, or a page of the entries matching the filters."""
        check_known(request, WORKFLOW_FILTERS)
        if ids := ids_from(request, "dlqIds"):
            deleted = remove_entries(dlq.workflow_entries(self.tenant.pk).filter(dlq_id__in=ids))
            return Response({"deleted": deleted})
        rows, cursor = cursor_page(matching(self, request), request, default=100, maximum=100)
        remove_entries(DlqEntry.objects.filter(pk__in=[r.pk for r in rows]))
        data = {"deleted": len(rows)}
        if cursor:
            data["cursor"] = cursor
        return Response(data)


class WorkflowDlqDetailView(QStashView):
    def get(self, request, dlq_id: str):
        entry = dlq.get_entry(self.tenant.pk, dlq_id)
        [data] = workflow_dlq.entries_json([entry], self.hides_credentials)
        return Response(data)

    def delete(self, request, dlq_id: str):
        remove_entries(DlqEntry.objects.filter(pk=dlq.get_entry(self.tenant.pk, dlq_id).pk))
        return Response({"deleted": 1})


class WorkflowDlqReviveView(QStashView):
    """POST /v2/workflows/dlq/resume|restart: ``dlqIds`` (what the SDK sends), or a page of
    the entries matching the filters (``cursor`` for the next one)."""

    mode = dlq.RESUME

    def post(self, request):
        check_known(request, WORKFLOW_FILTERS)
        overrides = override_options(request)
        cursor = None
        if ids := ids_from(request, "dlqIds"):
            rows = named(self.tenant.pk, ids)
        else:
            rows, cursor = cursor_page(matching(self, request), request, default=REVIVE_PAGE,
                                       maximum=REVIVE_PAGE)
        runs = dlq.revive(rows, self.mode, overrides, _chosen_run_id(overrides))
        return json_response({"cursor": cursor or "",
                              "workflowRuns": [revived_json(r) for r in runs]})


class WorkflowDlqReviveOneView(QStashView):
    mode = dlq.RESUME

    def post(self, request, dlq_id: str):
        overrides = override_options(request)
        [run] = dlq.revive([dlq.get_entry(self.tenant.pk, dlq_id)], self.mode, overrides,
                           _chosen_run_id(overrides))
        return json_response(revived_json(run))


def _chosen_run_id(overrides) -> str | None:
    """``Upstash-Workflow-RunId`` on the request names the new run."""
    run_id = overrides.workflow.get("upstash-workflow-runid") or None
    if run_id is not None and (len(run_id) > RUN_ID_MAX or not run_id.isprintable()):
        raise BadRequest(f"Upstash-Workflow-RunId must be at most {RUN_ID_MAX} printable "
                         "characters")
    return run_id


class WorkflowDlqCallbackView(QStashView):
    def post(self, request, dlq_id: str):
        """Send the failed failure callback of the run again."""
        run = dlq.retry_failure_callback(dlq.get_entry(self.tenant.pk, dlq_id))
        return json_response(revived_json(run))

    def delete(self, request, dlq_id: str):
        """Cancel the run's failure callback while it is in progress."""
        dlq.cancel_failure_callback(dlq.get_entry(self.tenant.pk, dlq_id))
        return json_response({})
