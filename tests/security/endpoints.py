"""Every API endpoint once, aimed at another tenant's resources; checked to cover api/urls.py."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.urls import resolve

# Placeholders filled with tenant B's resources: {message} {dlq} {queue} {group} {schedule} {key}
# {run} {event} {account}
NOT_FOUND, OWN, LIST, PUBLIC = "404", "own", "list", "public"
ITEM_NOT_FOUND = "item 404"  # batch: 200, each item an {"error": "... not found"}
REFUSED = "4xx"  # a 4xx that names the problem (a workflow step of another tenant's run)


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    expect: str  # NOT_FOUND, ITEM_NOT_FOUND; OWN: 2xx on the caller's own data; LIST: 2xx
    # without any of B's ids or names; PUBLIC: no tenant data at all
    json: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


CALLS = [
    Call("POST", "/v2/publish/{group}", NOT_FOUND),
    Call("POST", "/v2/enqueue/{queue}/{group}", NOT_FOUND),
    Call("POST", "/v2/batch", ITEM_NOT_FOUND, json=[{"destination": "{group}"}]),
    Call("DELETE", "/v2/messages", OWN, json={"messageIds": ["{message}"]}),
    Call("GET", "/v2/messages/{message}", NOT_FOUND),
    Call("DELETE", "/v2/messages/{message}", NOT_FOUND),
    Call("GET", "/v2/dlq", LIST),
    Call("DELETE", "/v2/dlq", OWN, json={"dlqIds": ["{dlq}"]}),
    Call("POST", "/v2/dlq/retry", NOT_FOUND, json={"dlqIds": ["{dlq}"]}),
    Call("POST", "/v2/dlq/retry/{dlq}", NOT_FOUND),
    Call("GET", "/v2/dlq/{dlq}", NOT_FOUND),
    Call("DELETE", "/v2/dlq/{dlq}", NOT_FOUND),
    Call("GET", "/v2/workflows/dlq", LIST),
    Call("DELETE", "/v2/workflows/dlq", OWN, json={"dlqIds": ["{dlq}"]}),
    *[Call("POST", f"/v2/workflows/dlq/{action}", NOT_FOUND, params={"dlqIds": "{dlq}"})
      for action in ("resume", "restart")],
    *[Call(method, f"/v2/workflows/dlq/{action}{{dlq}}", NOT_FOUND)
      for method, action in [("POST", "resume/"), ("POST", "restart/"), ("POST", "callback/"),
                             ("DELETE", "callback/"), ("GET", ""), ("DELETE", "")]],
    Call("GET", "/v2/events", LIST, params={"messageId": "{message}"}),
    Call("GET", "/v2/logs", LIST, params={"messageId": "{message}"}),
    Call("GET", "/v2/keys", OWN),
    Call("POST", "/v2/keys/rotate", OWN),
    Call("GET", "/v2/topics", LIST),
    Call("GET", "/v2/topics/{group}", NOT_FOUND),
    # QStash answers 2xx for deleting an unknown group; B's group must survive it.
    Call("DELETE", "/v2/topics/{group}", OWN),
    Call("PATCH", "/v2/topics/{group}", NOT_FOUND, json={"headers": {"X-A": "1"}}),
    Call("POST", "/v2/topics/{group}/endpoints", OWN,
         json={"endpoints": [{"url": "https://example.com/a"}]}),
    Call("DELETE", "/v2/topics/{group}/endpoints", NOT_FOUND,
         json={"endpoints": [{"url": "https://example.com/b"}]}),
    Call("GET", "/v2/queues", LIST),
    Call("POST", "/v2/queues", OWN, json={"queueName": "{queue}", "parallelism": 3}),
    Call("GET", "/v2/queues/{queue}", NOT_FOUND),
    Call("DELETE", "/v2/queues/{queue}", OWN),
    Call("POST", "/v2/queues/{queue}/pause", NOT_FOUND),
    Call("POST", "/v2/queues/{queue}/resume", NOT_FOUND),
    Call("GET", "/v2/flowControl", LIST),
    Call("GET", "/v2/flowControl/{key}", NOT_FOUND),
    *[Call("POST", f"/v2/flowControl/{{key}}/{action}", NOT_FOUND, params=params)
      for action, params in [("pause", {}), ("resume", {}), ("pin", {"parallelism": "2"}),
                             ("unpin", {"parallelism": "true"}), ("resetRate", {}),
                             ("reset", {})]],
    Call("GET", "/v2/globalParallelism", OWN),
    Call("GET", "/v2/schedules", LIST),
    Call("POST", "/v2/schedules/https://example.com/s", OWN,
         headers={"Upstash-Cron": "0 0 1 1 *", "Upstash-Schedule-Id": "{schedule}"}),
    Call("GET", "/v2/schedules/{schedule}", NOT_FOUND),
    Call("DELETE", "/v2/schedules/{schedule}", NOT_FOUND),
    Call("POST", "/v2/schedules/{schedule}/pause", NOT_FOUND),
    Call("PATCH", "/v2/schedules/{schedule}/resume", NOT_FOUND),
    Call("GET", "/v2/workflows/runs/{run}", NOT_FOUND),
    Call("DELETE", "/v2/workflows/runs/{run}", NOT_FOUND, params={"cancel": "true"}),
    Call("DELETE", "/v2/workflows/runs", OWN, params={"workflowRunIds": "{run}"}),
    Call("GET", "/v2/workflows/logs", LIST, params={"workflowRunId": "{run}"}),
    Call("GET", "/v2/workflows/events", LIST, params={"workflowRunId": "{run}"}),
    Call("POST", "/v2/wait/{event}", REFUSED, headers={"Upstash-Workflow-RunId": "{run}"},
         json={"url": "https://example.com/wf", "timeout": "1h", "step": {"stepId": 1}}),
    Call("POST", "/v2/notify/{event}", LIST),
    Call("POST", "/v2/notify/{run}/{event}", LIST),
    Call("GET", "/v2/waiters/{event}", LIST),
    Call("POST", "/v2/trigger/{group}", NOT_FOUND),
    Call("POST", "/v2/batch/trigger", ITEM_NOT_FOUND, json=[{"destination": "{group}"}]),
    # Public: the URL is the credential. Even B's own account, run and waited-for event
    # resume nothing when the event is not one of the run's webhooks.
    *[Call(method, "/v2/workflows/hooks/{account}/{run}/{event}", NOT_FOUND)
      for method in ("GET", "POST", "PUT", "PATCH", "DELETE")],
    Call("GET", "/v2/openapi.json", PUBLIC),
]


def fill(value: Any, names: dict[str, str]) -> Any:
    if isinstance(value, str):
        return value.format(**names)
    if isinstance(value, list):
        return [fill(v, names) for v in value]
    if isinstance(value, dict):
        return {fill(k, names): fill(v, names) for k, v in value.items()}
    return value


def routes_and_methods() -> set[tuple[str, str]]:
    """Every (route, method) the API serves, read from django_qstash/api/urls.py."""
    from django_qstash.api import urls

    served = set()
    for pattern in urls.urlpatterns:
        view = pattern.callback.view_class
        for method in view.http_method_names:
            if method not in ("head", "options", "trace") and hasattr(view, method):
                served.add((str(pattern.pattern), method.upper()))
    return served


def covered(calls: list[Call]) -> set[tuple[str, str]]:
    sample = dict(message="msg_x", dlq="1-0", queue="q", group="g", schedule="s", key="k",
                  run="wfr_x", event="e", account="a")
    return {(resolve(fill(c.path, sample)).route, c.method) for c in calls}
