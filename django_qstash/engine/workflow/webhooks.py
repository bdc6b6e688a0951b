"""context.createWebhook / waitForWebhook: a call to a run's webhook URL resumes its waiter.

The SDK makes the URL itself, ``{QSTASH_URL}/v2/workflows/hooks/{UserID}/{runId}/{eventId}``,
and appends it as the CreateWebhook step's output; waitForWebhook then waits for that event
id like waitForEvent. A call is handed over like a notify to that one run, but to one wait
only: it resumes the run's oldest waiter, or is kept until the run waits (so an early call is
not lost, and each call resumes one wait of a loop or of waits made in parallel). The URL
carries no token: the account id names the tenant, the run must still be running and the
event id must be one of its webhooks, so nobody can resume another tenant's run or a plain
waitForEvent through it.
"""

from __future__ import annotations

import json

from django_qstash.conf import qstash_settings
from django_qstash.core import strict_json
from django_qstash.engine.workflow import waits
from django_qstash.exceptions import NotFound, PayloadTooLarge
from django_qstash.models import Tenant, WorkflowRun

CREATE_WEBHOOK = "CreateWebhook"
# The call travels base64-encoded inside the resumed step, itself a message body.
STEP_OVERHEAD = 2048


def receive(account_id: str, run_id: str, event_id: str, call: dict) -> dict:
    """Hand ``call`` ({method, header, body (base64), proto, host, url}) to the run."""
    tenant = Tenant.objects.filter(account_id=account_id).first()
    run = (WorkflowRun.objects.filter(tenant=tenant, run_id=run_id).first()
           if tenant is not None else None)
    if run is None or not run.is_running:
        raise NotFound(f"workflow run {run_id} not found or already finished")
    if event_id not in webhook_event_ids(run):
        raise NotFound(f"webhook {event_id} of workflow run {run_id} not found")
    data = json.dumps(call, separators=(",", ":")).encode()
    if len(data) * 4 // 3 + STEP_OVERHEAD > qstash_settings.MAX_BODY_BYTES:
        raise PayloadTooLarge("the webhook call is too large to hand to the workflow")
    results = waits.notify(tenant, event_id, data, run_id, one=True)
    return {"workflowRunId": run_id, "eventId": event_id,
            "resumed": any(result.get("messageId") for result in results)}


def webhook_event_ids(run: WorkflowRun) -> set[str]:
    """The event ids of the webhooks the run created (each CreateWebhook step's output)."""
    found = set()
    for body in run.steps.filter(step_type=CREATE_WEBHOOK).values_list("body", flat=True):
        try:
            out = strict_json.loads(strict_json.loads(bytes(body))["out"])
            found.add(str(out["eventId"]))
        except (ValueError, TypeError, KeyError):
            continue
    return found
