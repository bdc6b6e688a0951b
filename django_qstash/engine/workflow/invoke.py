"""context.invoke, as the child run is triggered: its initial body and who invoked it.

The SDK publishes the child's trigger (``Upstash-Workflow-Invoke: true``) with the parent's
request as body: ``{body, headers, workflowRunId, workflowRunCreatedAt, workflowUrl, step}``.
The child starts from ``body``; ``headers`` (the publish headers of a parent step) and
``step`` are kept until the child ends, when the parent's Invoke step gets its result.
"""

from __future__ import annotations

from dataclasses import dataclass

from django_qstash.core import strict_json
from django_qstash.core.request_headers import PublishOptions
from django_qstash.core.storable_text import json_flaw
from django_qstash.exceptions import BadRequest

INVOKE = "upstash-workflow-invoke"
INVOKE_COUNT = "upstash-workflow-invoke-count"
MAX_DEPTH = 100
SHAPE = "an invoked workflow's trigger body must be {body, headers, workflowRunId, " \
        "workflowRunCreatedAt, workflowUrl, step}"


@dataclass
class Invocation:
    initial_body: bytes
    invoker: dict  # as the logs show it: the parent's run id, URL and creation time
    request: dict  # the parent step's headers and the step, kept until the child ends


def invocation(message, options: PublishOptions) -> Invocation | None:
    """What a context.invoke trigger says about the run it starts; None for other triggers."""
    if options.workflow.get(INVOKE, "").lower() != "true":
        return None
    if (depth := invoke_count(message.headers)) > MAX_DEPTH:
        raise BadRequest(f"invoke depth {depth} exceeds the limit of {MAX_DEPTH} nested "
                         "invocations")
    try:
        request = strict_json.loads(bytes(message.body))
    except ValueError:
        raise BadRequest(SHAPE) from None
    if not isinstance(request, dict):
        raise BadRequest(SHAPE)
    if problem := json_flaw(request):  # its run id, URL and headers are stored as text
        raise BadRequest(f"the invoke request contains {problem}, which is not allowed")
    body, headers, step = request.get("body"), request.get("headers"), request.get("step")
    run_id, url = request.get("workflowRunId"), request.get("workflowUrl")
    created_at = request.get("workflowRunCreatedAt")
    if not (isinstance(body, (str, type(None))) and isinstance(step, dict)
            and isinstance(run_id, str) and run_id and isinstance(url, str) and url
            and isinstance(created_at, int) and not isinstance(created_at, bool)
            and _is_header_map(headers)):
        raise BadRequest(SHAPE)
    return Invocation((body or "").encode(),
                      {"workflowRunId": run_id, "workflowUrl": url,
                       "workflowRunCreatedAt": created_at},
                      {"headers": _step_headers(headers), "step": step})


def invoke_count(headers: dict[str, list[str]]) -> int:
    """How deep this invocation is, from the count the SDK forwards to the child."""
    for name, values in headers.items():
        if name.lower() == INVOKE_COUNT and values:
            try:
                return int(values[0])
            except ValueError:
                raise BadRequest("Upstash-Workflow-Invoke-Count must be a number") from None
    return 0


def _is_header_map(headers) -> bool:
    return isinstance(headers, dict) and all(
        isinstance(v, list) and all(isinstance(i, str) for i in v) for v in headers.values())


def _step_headers(headers: dict[str, list[str]]) -> list[list[str]]:
    """What publishing the parent's step needs; the SDK also copies its client's headers,
    the parent's token among them, which is not kept."""
    return [[name, value] for name, values in headers.items() for value in values
            if name.lower().startswith("upstash-") or name.lower() == "content-type"]
