"""URL routes of the v2 API; include them at the site root: ``path("", include(...))``."""

from django.urls import path, re_path

from django_qstash.api.errors import UnknownEndpointView
from django_qstash.api.schema import OpenApiView
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
    workflow_hooks,
    workflow_trigger,
    workflows,
)

urlpatterns = [
    re_path(r"^v2/publish/(?P<destination>.+)$", publish.PublishView.as_view()),
    re_path(r"^v2/enqueue/(?P<queue>[^/]+)/(?P<destination>.+)$", publish.EnqueueView.as_view()),
    path("v2/batch", publish.BatchView.as_view()),
    path("v2/messages", messages.MessageListView.as_view()),
    path("v2/messages/<str:message_id>", messages.MessageDetailView.as_view()),
    path("v2/dlq", dlq.DlqListView.as_view()),
    path("v2/dlq/retry", dlq.DlqBulkRetryView.as_view()),
    path("v2/dlq/retry/<str:dlq_id>", dlq.DlqRetryView.as_view()),
    path("v2/dlq/<str:dlq_id>", dlq.DlqDetailView.as_view()),
    path("v2/events", events.EventListView.as_view()),
    path("v2/logs", events.EventListView.as_view(rows_key="logs")),
    path("v2/keys", keys.SigningKeysView.as_view()),
    path("v2/keys/rotate", keys.RotateSigningKeysView.as_view()),
    path("v2/topics", topics.UrlGroupListView.as_view()),
    path("v2/topics/<str:name>", topics.UrlGroupDetailView.as_view()),
    path("v2/topics/<str:name>/endpoints", topics.UrlGroupEndpointsView.as_view()),
    path("v2/queues", queues.QueueListView.as_view()),
    path("v2/queues/<str:name>", queues.QueueDetailView.as_view()),
    path("v2/queues/<str:name>/pause", queues.QueuePauseView.as_view()),
    path("v2/queues/<str:name>/resume", queues.QueueResumeView.as_view()),
    path("v2/flowControl", flow_control.FlowControlListView.as_view()),
    path("v2/flowControl/<str:key>", flow_control.FlowControlDetailView.as_view()),
    re_path(r"^v2/flowControl/(?P<key>[^/]+)/(?P<action>pause|resume|pin|unpin|resetRate|reset)$",
            flow_control.FlowControlActionView.as_view()),
    path("v2/globalParallelism", flow_control.GlobalParallelismView.as_view()),
    # The go SDK spells it "Schedules". An id has no "/" or ":", so no destination looks like
    # "{id}/pause".
    re_path(r"^v2/[sS]chedules/?$", schedules.ScheduleListView.as_view()),
    re_path(r"^v2/[sS]chedules/(?P<schedule_id>[A-Za-z0-9._-]+)/(?P<action>pause|resume)$",
            schedules.ScheduleActionView.as_view()),
    re_path(r"^v2/[sS]chedules/(?P<target>.+)$", schedules.ScheduleView.as_view()),
    path("v2/workflows/runs", workflows.WorkflowRunListView.as_view()),
    path("v2/workflows/runs/<str:run_id>", workflows.WorkflowRunView.as_view()),
    path("v2/workflows/logs", workflows.WorkflowLogsView.as_view()),
    path("v2/workflows/events", workflows.WorkflowLogsView.as_view()),
    path("v2/wait/<str:event_id>", workflows.WaitView.as_view()),
    path("v2/notify/<str:event_id>", workflows.NotifyView.as_view()),
    path("v2/notify/<str:run_id>/<str:event_id>", workflows.NotifyRunView.as_view()),
    path("v2/waiters/<str:event_id>", workflows.WaitersView.as_view()),
    re_path(r"^v2/workflows/hooks/(?P<account_id>[^/]+)/(?P<run_id>[^/]+)/(?P<event_id>[^/]+)$",
            workflow_hooks.WebhookView.as_view()),
    re_path(r"^v2/trigger/(?P<destination>.+)$", workflow_trigger.TriggerView.as_view()),
    path("v2/batch/trigger", workflow_trigger.BatchTriggerView.as_view()),
    path("v2/openapi.json", OpenApiView.as_view()),
    re_path(r"^v2/", UnknownEndpointView.as_view()),  # keep last: JSON 404 for the rest
]
