"""The dead-letter queue: list, get, delete (one or many), retry (one or many)."""

from __future__ import annotations

from django.db.models.functions import Length
from rest_framework.response import Response

from django_qstash.api import workflow_dlq
from django_qstash.api.base import QStashView, header_pairs, json_body
from django_qstash.api.budget import affordable, encoded_bytes, load_bodies
from django_qstash.api.filters import apply_filters, check_known, cursor_page, multi
from django_qstash.api.serializers import dlq_json
from django_qstash.core.digits import is_number
from django_qstash.core.request_headers import parse_publish_headers
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.dlq_retry import retry_entries
from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import DlqEntry, Message

PAGE_MAX = 100
FILTERS = {"cursor", "count", "messageId", "dlqIds", "url", "topicName", "scheduleId",
           "queueName", "responseStatus", "callerIp", "callerIP", "label", "flowControlKey",
           "fromDate", "toDate", "host", "path"}


def filtered_entries(view: QStashView, request):
    entries = (DlqEntry.objects.filter(tenant=view.tenant).select_related("message")
               .order_by("-id"))
    entries = apply_filters(entries, request, prefix="message__", date_field="created_at")
    if message_ids := multi(request, "messageId"):
        entries = entries.filter(message_id__in=message_ids)
    if dlq_ids := multi(request, "dlqIds"):
        entries = entries.filter(dlq_id__in=dlq_ids)
    if statuses := multi(request, "responseStatus"):
        if not all(is_number(s) for s in statuses):
            raise BadRequest("responseStatus must be an integer")
        entries = entries.filter(response_status__in=[int(s) for s in statuses])
    return entries


def page(entries, request) -> tuple[list[DlqEntry], str | None]:
    return cursor_page(entries, request, default=PAGE_MAX, maximum=PAGE_MAX)


def ids_from(request, key: str) -> list[str]:
    body = json_body(request, default={})
    ids = (body.get(key) if isinstance(body, dict) else None) or multi(request, key)
    if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
        raise BadRequest(f"{key} must be a list of strings")
    return ids


def fits(entries: list[DlqEntry]) -> int:
    return affordable([encoded_bytes(e.response_bytes) + encoded_bytes(e.message_bytes)
                       for e in entries])


def budgeted_page(entries, request) -> tuple[list[DlqEntry], str | None]:
    """A page of whole entries whose bodies fit MAX_LIST_RESPONSE_BYTES, bodies read last."""
    entries = (entries.defer("response_body", "message__body")
               .annotate(response_bytes=Length("response_body"),
                         message_bytes=Length("message__body")))
    rows, cursor = cursor_page(entries, request, default=PAGE_MAX, maximum=PAGE_MAX, fits=fits)
    load_bodies(rows, "response_body", DlqEntry.objects.all())
    load_bodies([r.message for r in rows], "body", Message.objects.all())
    return rows, cursor


def listing(view: QStashView, request, *, workflows: bool) -> Response:
    """A page of entries, failed workflow steps with their runs; ``workflows``: only those."""
    entries = filtered_entries(view, request)
    if workflows:
        entries = workflow_dlq.only_workflows(entries, view.tenant, request)
    rows, cursor = budgeted_page(entries, request)
    data = {"messages": workflow_dlq.entries_json(rows, view.hides_credentials)}
    if cursor:
        data["cursor"] = cursor
    return Response(data)


class DlqListView(QStashView):
    def get(self, request):
        # The Workflow SDK's client.dlq.list asks for source=workflow.
        return listing(self, request, workflows=request.GET.get("source") == "workflow")

    def delete(self, request):
        check_known(request, FILTERS)
        ids = ids_from(request, "dlqIds")
        if ids:
            deleted = remove_entries(DlqEntry.objects.filter(tenant=self.tenant, dlq_id__in=ids))
            return Response({"deleted": deleted})
        entries = filtered_entries(self, request).defer("response_body", "message__body")
        rows, cursor = page(entries, request)  # ids are all it needs: no bodies read
        remove_entries(DlqEntry.objects.filter(pk__in=[r.pk for r in rows]))
        data = {"deleted": len(rows)}
        if cursor:
            data["cursor"] = cursor
        return Response(data)


def get_entry(tenant, dlq_id: str) -> DlqEntry:
    entry = DlqEntry.objects.filter(tenant=tenant, dlq_id=dlq_id).select_related("message").first()
    if entry is None:
        raise NotFound(f"DLQ entry {dlq_id} not found")
    return entry


def override_options(request):
    """Config headers on a retry request reconfigure the new message (e.g. Upstash-Retries)."""
    return parse_publish_headers(
        [(k, v) for k, v in header_pairs(request) if k.lower().startswith("upstash-")])


class DlqDetailView(QStashView):
    def get(self, request, dlq_id: str):
        entry = get_entry(self.tenant, dlq_id)
        fill_bodies([entry.message])  # a workflow step shows the body it was sent with
        return Response(dlq_json(entry, self.hides_credentials))

    def delete(self, request, dlq_id: str):
        remove_entries(DlqEntry.objects.filter(pk=get_entry(self.tenant, dlq_id).pk))
        return Response({"deleted": 1})


class DlqRetryView(QStashView):
    def post(self, request, dlq_id: str):
        [message_id] = retry_entries([get_entry(self.tenant, dlq_id)], override_options(request))
        return Response({"messageId": message_id}, status=201)


class DlqBulkRetryView(QStashView):
    def post(self, request):
        check_known(request, FILTERS)
        ids = ids_from(request, "dlqIds")
        cursor = None
        if ids:
            rows = list(DlqEntry.objects.filter(tenant=self.tenant, dlq_id__in=ids)
                        .select_related("message"))
            missing = set(ids) - {r.dlq_id for r in rows}
            if missing:
                raise NotFound(f"DLQ entries not found: {', '.join(sorted(missing))}")
        else:
            rows, cursor = page(filtered_entries(self, request), request)
        new_ids = retry_entries(rows, override_options(request))
        return Response({"cursor": cursor or "", "responses": [{"messageId": i} for i in new_ids]},
                        status=201)
