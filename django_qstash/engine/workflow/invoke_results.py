"""A run started by context.invoke has ended: its invoker's Invoke step gets the result.

The step is appended the way the SDK appends one, by publishing it to the invoker's URL with
the headers its invoke request carried, so history, config and delivery are those of every
other step: ``{…step, out: JSON {body, isFailed, isCanceled}}``.
"""

from __future__ import annotations

import json

from django.db import transaction

from django_qstash.conf import qstash_settings
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.exceptions import ApiError, PayloadTooLarge
from django_qstash.models import WorkflowRun

State = WorkflowRun.State


def report_ended(tenant_id: int, run_ids: list[str]) -> None:
    """Hand the outcome of each ended run of ``run_ids`` that was invoked to its invoker,
    once: the request is dropped from the run's config as it is handed over."""
    ended = (WorkflowRun.objects.select_for_update()
             .filter(tenant_id=tenant_id, run_id__in=run_ids, invoker__isnull=False)
             .exclude(state=State.STARTED).select_related("tenant"))
    for run in ended:
        request = run.config.get("invoke")
        if not request:
            continue
        run.config = {key: value for key, value in run.config.items() if key != "invoke"}
        run.save(update_fields=["config"])
        _deliver(run, request)


def outcome(run: WorkflowRun) -> dict:
    result: dict = {}
    if run.state == State.SUCCESS and run.result is not None:
        result["body"] = run.result
    result.update(isFailed=run.state == State.FAILED, isCanceled=run.state == State.CANCELED)
    return result


def too_large(run: WorkflowRun) -> dict:
    """What the invoker gets instead of a result that does not fit in one of its steps: it
    would otherwise wait for the step forever."""
    return {"body": f"the invoked run {run.run_id} ended with a result too large to hand back "
                    f"(a step holds at most {qstash_settings.MAX_BODY_BYTES} bytes)",
            "isFailed": True, "isCanceled": False}


def _deliver(run: WorkflowRun, request: dict) -> None:
    pairs = [(name, value) for name, value in request["headers"]]
    for out in (outcome(run), too_large(run)):
        step = {**request["step"], "stepType": "Invoke",
                "out": json.dumps(out, separators=(",", ":"))}
        body = json.dumps(step, separators=(",", ":")).encode()
        try:
            with transaction.atomic():
                spec = prepare(run.tenant, run.invoker["workflowUrl"], body, pairs)
                publish_specs(run.tenant, [spec])
            return
        except PayloadTooLarge:
            continue
        except ApiError:
            return  # the invoker has ended (or is gone): nobody waits for this result
