"""A workflow run on one page: each step with its output, its delivery's attempts, the calls
made and their responses, what it waits for and what is still to come."""

from __future__ import annotations

import base64
import json

from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html, format_html_join

from django_qstash.admin.badges import badge
from django_qstash.admin.base import body_html, headers_html
from django_qstash.admin.timeline import time_text
from django_qstash.core import strict_json
from django_qstash.models import DeliveryAttempt, Message, WorkflowRun, WorkflowStep

CallType = WorkflowStep.CallType
# A run with thousands of steps is possible; the page shows the first ones.
MAX_STEPS = 500


def _json(raw) -> object:
    try:
        return strict_json.loads(raw)
    except (TypeError, ValueError):
        return None


def _message_link(message_id: str, messages: dict[str, Message]) -> str:
    if message_id not in messages:
        return message_id
    url = reverse("admin:django_qstash_message_change", args=[message_id])
    return format_html('<a href="{}">{}</a>', url, message_id)


def _delivery(message_id: str, messages: dict[str, Message], attempts: dict[str, int]) -> str:
    """Where the step's delivery stands: its state and how many attempts it took."""
    message = messages.get(message_id)
    if message is None:
        return "-"
    count = attempts.get(message_id, 0)
    return format_html("{} {} attempt{}", badge(message.status), count, "" if count == 1 else "s")


def _output(step: WorkflowStep) -> str:
    """What the step published: its ``out`` (and a wait's timeout flag), or the raw body."""
    body = bytes(step.body)
    published = _json(body)
    if not isinstance(published, dict):
        return body_html(body)
    details = []
    for name in ("sleepFor", "sleepUntil", "waitTimeout"):
        if name in published:
            details.append(format_html("<div>{}: {}</div>", name, published[name]))
    out = published.get("out")
    if isinstance(out, str) and step.step_type in ("Wait", "Notify"):
        try:  # an event's data arrives base64-encoded
            out = base64.b64decode(out, validate=True).decode("utf-8")
        except (ValueError, UnicodeDecodeError):
            pass
    shown = body_html(out.encode() if isinstance(out, str) else json.dumps(out).encode()) \
        if out is not None else "-"
    return format_html("{}{}", format_html_join("", "{}", ((d,) for d in details)), shown)


def _call_request(step: WorkflowStep, messages: dict[str, Message]) -> str:
    message = messages.get(step.message_id)
    if message is None:
        return "-"
    return format_html("<div>{} {}</div><details><summary>request</summary>{}{}</details>",
                       message.method, message.url, headers_html(message.headers),
                       body_html(message.body))


def _call_response(step: WorkflowStep) -> str:
    result = _json(bytes(step.body))
    if not isinstance(result, dict):
        return body_html(step.body)
    try:
        body = base64.b64decode(result.get("body") or "")
    except ValueError:
        body = b""
    return format_html("<div>HTTP {}</div><details><summary>response</summary>{}{}</details>",
                       result.get("status"), headers_html(result.get("header")),
                       body_html(body))


def _row(step: WorkflowStep, messages, attempts) -> tuple:
    if step.call_type == CallType.TO_CALLBACK:
        what, shown = "call request", _call_request(step, messages)
    elif step.call_type == CallType.FROM_CALLBACK:
        what, shown = "call response", _call_response(step)
    elif step.step_id == 0:
        what, shown = f"plan of step {step.target_step}", "-"
    else:
        what, shown = step.step_type or "step", _output(step)
    name = f"{step.step_id} · {step.step_name}" if step.step_name else str(step.step_id)
    return (time_text(step.created_at), name, what, shown,
            _message_link(step.message_id, messages),
            _delivery(step.message_id, messages, attempts))


def run_timeline_html(run: WorkflowRun) -> str:
    steps = list(run.steps.order_by("id")[:MAX_STEPS])
    ids = [run.init_message_id, *(s.message_id for s in steps)]
    # A step delivery's body is the run's history up to it: only the calls' bodies are read.
    messages = {m.id: m for m in Message.objects.filter(tenant_id=run.tenant_id, pk__in=ids)
                .only("id", "status")}
    calls = [s.message_id for s in steps if s.call_type == CallType.TO_CALLBACK]
    messages.update((m.id, m) for m in Message.objects.filter(
        tenant_id=run.tenant_id, pk__in=calls).only("id", "status", "url", "method", "headers",
                                                    "body"))
    attempts = dict(DeliveryAttempt.objects.filter(message_id__in=list(messages))
                    .values_list("message_id").annotate(n=Count("id")).order_by())
    rows = [(time_text(run.created_at), "0 · init", "initial body", body_html(run.initial_body),
             _message_link(run.init_message_id, messages),
             _delivery(run.init_message_id, messages, attempts))]
    rows += [_row(step, messages, attempts) for step in steps]
    return format_html(
        '<table class="qstash-timeline"><thead><tr><th>Time</th><th>Step</th><th>What</th>'
        "<th>Output</th><th>Message</th><th>Delivery</th></tr></thead><tbody>{}</tbody>"
        "</table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td>"
                             "<td>{}</td></tr>", rows))


def pending_html(run: WorkflowRun) -> str:
    """Deliveries of the run not delivered yet (or failed), and the events it waits for."""
    messages = list(Message.objects.filter(tenant_id=run.tenant_id, workflow_run_id=run.run_id)
                    .exclude(status=Message.Status.DELIVERED).defer("body")
                    .order_by("created_at")[:MAX_STEPS])
    rows = [(time_text(m.not_before), badge(m.status), _message_link(m.id, {m.id: m}),
             f"attempt {m.retried + 1} of {m.max_retries + 1}") for m in messages]
    rows += [(time_text(w.deadline), badge("waiting", "blue"), f"event {w.event_id}",
              f"until {time_text(w.deadline)}") for w in run.waiters.order_by("id")]
    if not rows:
        return "-"
    return format_html(
        '<table class="qstash-timeline"><thead><tr><th>Due</th><th>State</th><th>What</th>'
        "<th></th></tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))
