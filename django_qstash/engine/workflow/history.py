"""A run's history as the SDK reads it: ``[{messageId, body: base64, callType}, …]``."""

from __future__ import annotations

import base64
import json

from django_qstash.conf import qstash_settings
from django_qstash.models import WorkflowRun, WorkflowStep


def entry(message_id: str, body: bytes, call_type: str) -> dict:
    return {"messageId": message_id, "body": base64.b64encode(bytes(body)).decode(),
            "callType": call_type}


def entries(run: WorkflowRun, steps: list[WorkflowStep]) -> list[dict]:
    """Element 0 is the initial body (carried by the trigger message), then every appended
    message in append order."""
    return [entry(run.init_message_id, run.initial_body, WorkflowStep.CallType.STEP),
            *(entry(s.message_id, s.body, s.call_type) for s in steps)]


def encode(items: list[dict]) -> bytes:
    return json.dumps(items, separators=(",", ":")).encode()


def delivered_body(items: list[dict]) -> bytes:
    """The body of a step delivery; empty once the history is too large to carry, which
    tells the SDK to fetch it (LazyFetch)."""
    body = encode(items)
    return b"" if len(body) > qstash_settings.WORKFLOW_INLINE_HISTORY_BYTES else body


def load(run: WorkflowRun) -> list[WorkflowStep]:
    return list(run.steps.order_by("id"))
