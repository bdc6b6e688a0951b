"""OpenAPI schema of the v2 API: annotations for views that read raw bodies and headers."""

from __future__ import annotations

import re

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from drf_spectacular.views import SpectacularJSONAPIView
from rest_framework.permissions import AllowAny

from django_qstash.api.base import QStashView
from django_qstash.api.errors import exception_handler
from django_qstash.api.views import (
    dlq,
    events,
    flow_control,
    keys,
    messages,
    publish,
    queues,
    schedules,
    topics,
    workflow_dlq,
    workflow_hooks,
    workflow_trigger,
    workflows,
)

STR, INT, BOOL = {"type": "string"}, {"type": "integer", "minimum": 0}, {"type": "boolean"}
OBJ, ANY_OBJ = {"type": "object"}, {"type": "object", "additionalProperties": True}
STRINGS = {"type": "array", "items": STR}
ERROR = {"type": "object", "required": ["error"], "properties": {"error": STR}}
ERRORS = {code: OpenApiResponse(ERROR, description=text) for code, text in [
    (400, "invalid input, the message says what is wrong"), (401, "missing or invalid token"),
    (403, "read-only token"), (404, "not found"), (413, "body too large"),
    (429, "rate limit or daily quota exceeded")]}
METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"]


def header(name: str, schema: dict = STR, description: str = "", required: bool = False):
    return OpenApiParameter(name, schema, OpenApiParameter.HEADER, required=required,
                            description=description)


def query(name: str, schema: dict = STR, many: bool = False):
    # Repeated (name=a&name=b); a comma list in one value works too.
    schema = {"type": "array", "items": schema} if many else schema
    return OpenApiParameter(name, schema, OpenApiParameter.QUERY, explode=True if many else None)


def loose(pattern: str) -> dict:
    """A well-formed value half the time, anything at all otherwise: both paths get exercised."""
    return {"anyOf": [{"type": "string", "pattern": pattern}, STR]}


def path(name: str, schema: dict = STR):
    return OpenApiParameter(name, schema, OpenApiParameter.PATH, required=True)


DURATION = "^([0-9]{1,4}[smhd]){1,3}$"
URL = r"^https?://[a-z0-9.\[\]:-]{0,30}(/[A-Za-z0-9._~%-]{0,20}){0,3}$"
DESTINATION = loose(f"{URL}|^[A-Za-z0-9._-]{{1,20}}$")
PUBLISH_HEADERS = [
    header("Content-Type"),
    header("Upstash-Method", {"type": "string", "enum": METHODS}),
    header("Upstash-Delay", loose(DURATION), "e.g. 50s, 1d10h30m"),
    header("Upstash-Not-Before", loose("^[0-9]{1,12}$"), "unix seconds"),
    header("Upstash-Retries", loose("^[0-9]{1,3}$"), "0 .. MAX_RETRIES"),
    header("Upstash-Retry-Delay", loose(r"^[0-9a-z()*+/ ,-]{1,40}$"),
           "e.g. pow(2, retried) * 1000"),
    header("Upstash-Timeout", loose(DURATION), "e.g. 30s"),
    header("Upstash-Callback", loose(URL)), header("Upstash-Failure-Callback", loose(URL)),
    header("Upstash-Callback-Retries"), header("Upstash-Callback-Timeout"),
    header("Upstash-Deduplication-Id"),
    header("Upstash-Content-Based-Deduplication", {"type": "string", "enum": ["true", "false"]}),
    header("Upstash-Flow-Control-Key"),
    header("Upstash-Flow-Control-Value", description="parallelism=N, rate=N, period=1m"),
    header("Upstash-Label"), header("Upstash-Redact-Fields", description="body, header[Name]"),
    header("Upstash-Header-Forward", {"type": "string", "enum": ["true", "false"]}),
    header("Upstash-Forward-X-Example", description="any Upstash-Forward-* header is forwarded"),
]
SCHEDULE_HEADERS = [header("Upstash-Cron", loose(r"^([0-9*/,-]{1,6} ){4}[0-9*/,-]{1,6}$"),
                           "e.g. */5 * * * *", required=True),
                    header("Upstash-Schedule-Id"), header("Upstash-Queue-Name")]
PUBLISHED = {"type": "object", "properties": {"messageId": STR, "url": STR,
                                              "deduplicated": BOOL}}
RAW_BODY = {"application/octet-stream": {"type": "string", "format": "binary"},
            "text/plain": STR, "application/json": ANY_OBJ}
BATCH_ITEM = {"type": "object", "properties": {
    "destination": STR, "queue": STR, "body": STR,
    "headers": {"type": "object", "additionalProperties": STR}}}
LIST_FILTERS = [query(name) for name in (
    "url", "topicName", "queueName", "scheduleId", "label", "flowControlKey", "callerIp")] + [
    query("cursor"), query("count", INT), query("fromDate", INT), query("toDate", INT)]
STATES = ["CREATED", "ACTIVE", "RETRY", "ERROR", "IN_PROGRESS", "DELIVERED", "FAILED",
          "CANCELED", "CANCEL_REQUESTED", "CANCELLED"]
MESSAGE_IDS = {"type": "object", "properties": {"messageIds": STRINGS}}
DLQ_IDS = {"type": "object", "properties": {"dlqIds": STRINGS}}
ENDPOINTS = {"type": "object", "required": ["endpoints"], "properties": {"endpoints": {
    "type": "array", "items": {"type": "object", "properties": {"url": STR, "name": STR}}}}}


def op(*params, request=None, ok: dict | None = None, status: int = 200) -> dict:
    """One operation: parameters, an optional JSON (or raw) body, its success and errors."""
    body = request if request is None or "application/octet-stream" in request else {
        "application/json": request}
    return dict(parameters=list(params), request=body, responses={status: ok or OBJ, **ERRORS})


def annotate(view: type, **methods: dict) -> None:
    # Class-level and scoped by method: extend_schema on a method would be built on DRF's
    # DEFAULT_SCHEMA_CLASS, which projects need not point at drf-spectacular.
    for name, operation in methods.items():
        extend_schema(methods=[name.upper()], **operation)(view)


class QStashAutoSchema(AutoSchema):
    def get_operation_id(self) -> str:
        # Unique and stable: "get_v2_logs"; /v2/events and /v2/logs share one view.
        return f"{self.method.lower()}_{re.sub(r'[^A-Za-z0-9]+', '_', self.path).strip('_')}"


QStashView.schema = QStashAutoSchema()
annotate(publish.PublishView, post=op(
    path("destination", DESTINATION), *PUBLISH_HEADERS, request=RAW_BODY,
    ok={"oneOf": [PUBLISHED, {"type": "array", "items": PUBLISHED}]}))
annotate(publish.EnqueueView, post=op(
    path("queue"), path("destination", DESTINATION), *PUBLISH_HEADERS, request=RAW_BODY,
    ok=PUBLISHED))
annotate(publish.BatchView, post=op(request={"type": "array", "items": BATCH_ITEM},
                                    ok={"type": "array"}))
annotate(messages.MessageListView, delete=op(query("messageIds", many=True), *LIST_FILTERS,
                                             request=MESSAGE_IDS))
annotate(messages.MessageDetailView, get=op(path("message_id")), delete=op(path("message_id")))
annotate(dlq.DlqListView, get=op(*LIST_FILTERS, query("messageId", many=True),
                                 query("dlqIds", many=True), query("responseStatus", INT),
                                 query("source", {"type": "string", "enum": ["workflow"]})),
         delete=op(query("dlqIds", many=True), *LIST_FILTERS, request=DLQ_IDS))
annotate(dlq.DlqBulkRetryView, post=op(query("dlqIds", many=True), *LIST_FILTERS,
                                       *PUBLISH_HEADERS[:6], request=DLQ_IDS, status=201))
annotate(dlq.DlqRetryView, post=op(path("dlq_id"), *PUBLISH_HEADERS[:6], status=201))
annotate(dlq.DlqDetailView, get=op(path("dlq_id")), delete=op(path("dlq_id")))
annotate(events.EventListView, get=op(
    *LIST_FILTERS, query("messageId", many=True), query("host"), query("path"),
    query("state", {"type": "string", "enum": STATES}, many=True)))
annotate(keys.SigningKeysView, get=op(ok={"type": "object", "properties": {
    "current": STR, "next": STR}}))
annotate(keys.RotateSigningKeysView, post=op())
annotate(topics.UrlGroupListView, get=op(ok={"type": "array"}))
annotate(topics.UrlGroupDetailView, get=op(path("name")), delete=op(path("name")),
         patch=op(path("name"), request={"type": "object", "required": ["headers"],
                                         "properties": {"headers": ANY_OBJ}}))
annotate(topics.UrlGroupEndpointsView, post=op(path("name"), request=ENDPOINTS),
         delete=op(path("name"), request=ENDPOINTS))
annotate(queues.QueueListView, get=op(ok={"type": "array"}), post=op(request={
    "type": "object", "required": ["queueName"], "properties": {
        "queueName": STR, "parallelism": {"type": "integer"}, "paused": BOOL}}))
annotate(queues.QueueDetailView, get=op(path("name")), delete=op(path("name")))
annotate(queues.QueuePauseView, post=op(path("name")))
annotate(queues.QueueResumeView, post=op(path("name")))
annotate(flow_control.FlowControlListView, get=op(query("search"), ok={"type": "array"}))
annotate(flow_control.FlowControlDetailView, get=op(path("key")))
annotate(flow_control.FlowControlActionView, post=op(
    path("key"), path("action", {"type": "string", "enum": [
        "pause", "resume", "pin", "unpin", "resetRate", "reset"]}),
    query("parallelism"), query("rate"), query("period")))
annotate(flow_control.GlobalParallelismView, get=op())
annotate(schedules.ScheduleListView, get=op(ok={"type": "array"}))
annotate(schedules.ScheduleView, post=op(path("target", DESTINATION), *SCHEDULE_HEADERS,
                                         *PUBLISH_HEADERS, request=RAW_BODY),
         get=op(path("target")), delete=op(path("target")))
SCHEDULE_ACTION = op(path("schedule_id"), path("action", {"type": "string",
                                                         "enum": ["pause", "resume"]}))
annotate(schedules.ScheduleActionView, post=SCHEDULE_ACTION, patch=SCHEDULE_ACTION)
RUN_FILTERS = [query("workflowUrl"), query("workflowUrlExactMatch", BOOL),
               query("label", many=True), query("flowControlKey", many=True),
               query("fromDate", INT), query("toDate", INT), query("count", INT), query("cursor")]
annotate(workflows.WorkflowRunView,
         get=op(path("run_id"), ok={"type": "array", "items": {"type": "object", "properties": {
             "messageId": STR, "body": STR, "callType": STR}}}),
         delete=op(path("run_id"), query("cancel", BOOL), request=RAW_BODY))
annotate(workflows.WaitView, post=op(path("event_id"), request={"type": "object", "properties": {
    "url": STR, "timeout": STR, "timeoutUrl": STR, "timeoutHeaders": OBJ, "step": OBJ}}))
annotate(workflows.NotifyView, post=op(path("event_id"), request=RAW_BODY, ok={"type": "array"}))
annotate(workflows.NotifyRunView, post=op(path("run_id"), path("event_id"), request=RAW_BODY,
                                          ok={"type": "array"}))
annotate(workflows.WaitersView, get=op(path("event_id"), ok={"type": "array"}))
annotate(workflows.WorkflowRunListView, delete=op(
    query("workflowRunIds", many=True), *RUN_FILTERS,
    ok={"type": "object", "properties": {"cancelled": INT}}))
annotate(workflows.WorkflowLogsView, get=op(
    query("groupBy", {"type": "string", "enum": ["workflowRunId"]}),
    query("workflowRunId", many=True), query("workflowCreatedAt", INT),
    query("state", {"type": "string", "enum": ["RUN_STARTED", "RUN_SUCCESS", "RUN_FAILED",
                                               "RUN_CANCELED"]}, many=True),
    query("messageId", many=True), *RUN_FILTERS,
    ok={"type": "object", "properties": {"cursor": STR, "runs": {"type": "array"}}}))

WORKFLOW_DLQ_FILTERS = [
    *LIST_FILTERS, query("responseStatus", INT), query("workflowUrl", many=True),
    query("workflowRunId", many=True), query("workflowCreatedAt", INT),
    query("failureFunctionState", {"type": "string", "enum": [
        "CALLBACK_INPROGRESS", "CALLBACK_SUCCESS", "CALLBACK_FAIL", "CALLBACK_CANCELED"]},
        many=True)]
REVIVE_HEADERS = [h for h in PUBLISH_HEADERS if h.name in {
    "Upstash-Delay", "Upstash-Retries", "Upstash-Retry-Delay", "Upstash-Flow-Control-Key",
    "Upstash-Flow-Control-Value", "Upstash-Label", "Upstash-Failure-Callback"}] + [
    header("Upstash-Workflow-RunId", description="the new run's id (one DLQ id only)")]
REVIVED = {"type": "object", "properties": {"workflowRunId": STR, "workflowCreatedAt": INT}}
annotate(workflow_dlq.WorkflowDlqListView, get=op(*WORKFLOW_DLQ_FILTERS),
         delete=op(query("dlqIds", many=True), *WORKFLOW_DLQ_FILTERS, request=DLQ_IDS))
annotate(workflow_dlq.WorkflowDlqDetailView, get=op(path("dlq_id")), delete=op(path("dlq_id")))
annotate(workflow_dlq.WorkflowDlqReviveView, post=op(
    query("dlqIds", many=True), *WORKFLOW_DLQ_FILTERS, *REVIVE_HEADERS, request=DLQ_IDS,
    ok={"type": "object", "properties": {"cursor": STR, "workflowRuns": {
        "type": "array", "items": REVIVED}}}))
annotate(workflow_dlq.WorkflowDlqReviveOneView, post=op(path("dlq_id"), *REVIVE_HEADERS,
                                                        ok=REVIVED))
annotate(workflow_dlq.WorkflowDlqCallbackView, post=op(path("dlq_id"), ok=REVIVED),
         delete=op(path("dlq_id")))


TRIGGERED = {"type": "object", "properties": {"workflowRunId": STR, "workflowCreatedAt": INT,
                                              "deduplicated": BOOL}}
annotate(workflow_trigger.TriggerView, post=op(
    path("destination", DESTINATION), header("Upstash-Workflow-RunId"), *PUBLISH_HEADERS,
    request=RAW_BODY, ok=TRIGGERED))
annotate(workflow_trigger.BatchTriggerView, post=op(
    request={"type": "array", "items": BATCH_ITEM}, ok={"type": "array", "items": TRIGGERED},
    status=201))


ACCOUNT_ID = {"type": "string",
              "pattern": "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"}


def hook(request=None) -> dict:
    """The public webhook URL: any method, no token."""
    return {**op(path("account_id", ACCOUNT_ID), path("run_id"), path("event_id"),
                 request=request,
                 ok={"type": "object", "properties": {"workflowRunId": STR, "eventId": STR,
                                                      "resumed": BOOL}}), "auth": []}


annotate(workflow_hooks.WebhookView, get=hook(), delete=hook(),
         **dict.fromkeys(("post", "put", "patch"), hook(RAW_BODY)))


class TokenAuthentication(OpenApiAuthenticationExtension):
    target_class = "django_qstash.api.authentication.QStashTokenAuthentication"
    name = "bearerAuth"

    def get_security_definition(self, auto_schema):
        return {"type": "http", "scheme": "bearer"}


def only_qstash_endpoints(endpoints, **kwargs):
    """Describe this API only, wherever the project mounted it, and nothing else it serves."""
    # The go SDK's "Schedules" spelling is a character class in our routes; show one spelling.
    return [(path_.replace("[sS]chedules/", "schedules/").replace("[sS]chedules", "schedules")
             .removesuffix("schedules/") + ("schedules" if path_.endswith("chedules/") else ""),
             regex, method, callback)
            for path_, regex, method, callback in endpoints
            if issubclass(getattr(callback, "cls", object), QStashView)]


class OpenApiView(SpectacularJSONAPIView):
    """GET /v2/openapi.json: public, like any API reference."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    custom_settings = {
        "TITLE": "QStash-compatible API", "VERSION": "2",
        "DESCRIPTION": "Self-hosted, Upstash QStash v2-compatible message queue and scheduler.",
        "PREPROCESSING_HOOKS": ["django_qstash.api.schema.only_qstash_endpoints"],
        "COMPONENT_SPLIT_REQUEST": True,
    }

    def get_exception_handler(self):
        return exception_handler  # a wrong method gets {"error": ...} like everywhere in /v2/
