"""Failed workflow runs out of the DLQ: resumed from the failed step or restarted, each under a
new run id; the failure callback of a failed run retried or cancelled."""

from __future__ import annotations

import copy
from datetime import datetime

from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from django_qstash.core import clock, ids
from django_qstash.core.request_headers import PublishOptions
from django_qstash.engine.cancellation import cancel
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.dlq_retry import copy_message
from django_qstash.engine.publishing import label_index, save_messages
from django_qstash.engine.workflow import delivered, history
from django_qstash.engine.workflow.steps import CREATED_AT_HEADER, RUN_ID_HEADER
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import DlqEntry, Message, WorkflowRun, WorkflowStep

RESUME, RESTART = "resume", "restart"
CallType = WorkflowStep.CallType
# The failure callback names its run here (``Upstash-Failure-Callback-Workflow-RunId``).
NESTED_RUN_ID = "upstash-workflow-runid"
UNDELIVERED = (Message.Status.PENDING, Message.Status.ACTIVE)


def workflow_entries(tenant_id: int) -> QuerySet:
    """DLQ entries of failed workflow steps: each one failed its run."""
    return DlqEntry.objects.filter(tenant_id=tenant_id).exclude(message__workflow_run_id="")


def get_entry(tenant_id: int, dlq_id: str) -> DlqEntry:
    entry = workflow_entries(tenant_id).filter(dlq_id=dlq_id).select_related("message").first()
    if entry is None:
        raise NotFound(f"workflow DLQ entry {dlq_id} not found")
    return entry


def run_of(entry: DlqEntry) -> WorkflowRun:
    run_id = entry.message.workflow_run_id
    run = WorkflowRun.objects.filter(tenant_id=entry.tenant_id, run_id=run_id).first()
    if run is None:
        raise BadRequest(f"workflow run {run_id} of DLQ entry {entry.dlq_id} is no longer kept")
    return run


def new_run_id() -> str:
    return f"wfr_{ids.base58(24)}"


def revive(entries: list[DlqEntry], mode: str, overrides: PublishOptions | None = None,
           run_id: str | None = None) -> list[WorkflowRun]:
    """Resume (``RESUME``) or restart (``RESTART``) the run of each entry as a new run, and
    take the entries out of the DLQ; returns the new runs, in the entries' order.

    Resuming keeps every step the run had appended and delivers the failed step again, so the
    SDK goes on from there; restarting delivers the initial body alone. ``overrides`` (the
    request's Upstash-* headers) reconfigure the new run: retries, retry delay, delay, flow
    control, labels, failure callback. ``run_id`` names the new run (one entry only)."""
    if mode not in (RESUME, RESTART):
        raise ValueError(mode)
    if run_id is not None and len(entries) != 1:
        raise BadRequest("Upstash-Workflow-RunId names one new run: give one DLQ id")
    now = clock.now()
    with transaction.atomic():
        # Locked, so two requests cannot both revive one entry.
        locked = {e.pk: e for e in DlqEntry.objects.select_for_update(of=("self",))
                  .filter(pk__in=[e.pk for e in entries]).select_related("message")}
        revived, messages = [], []
        for entry in entries:
            if entry.pk not in locked:
                raise NotFound(f"workflow DLQ entry {entry.dlq_id} not found")
            run, message = _revived(locked[entry.pk], mode, overrides, run_id, now)
            revived.append(run)
            messages.append(message)
        save_messages(messages, now)
        remove_entries(DlqEntry.objects.filter(pk__in=list(locked)))
    return revived


def _revived(entry: DlqEntry, mode: str, overrides: PublishOptions | None,
             run_id: str | None, now: datetime) -> tuple[WorkflowRun, Message]:
    failed = entry.message
    old = run_of(entry)
    template = failed
    if mode == RESTART:
        # The trigger as it was sent; the failed step stands in once the trigger is purged.
        template = Message.objects.filter(pk=old.init_message_id).first() or failed
    message = copy_message(template, overrides, now)
    run = WorkflowRun(
        tenant_id=old.tenant_id, run_id=run_id or new_run_id(), url=old.url,
        initial_body=bytes(old.initial_body), config=copy.deepcopy(old.config),
        labels=list(old.labels), label_index=old.label_index,
        flow_control_key=old.flow_control_key, invoker=old.invoker,
        init_message_id=old.init_message_id, created_at=now)
    if mode == RESTART or failed.id == old.init_message_id:
        run.init_message_id = message.id  # this delivery is the run's first
    _reconfigure(run, message, overrides)
    _retarget(run, message)
    try:
        with transaction.atomic():
            run.save()
    except IntegrityError:
        raise BadRequest(f"workflow run {run.run_id} already exists") from None
    message.body = (delivered.COMPOSED if mode == RESTART
                    else _resumed_history(old, run, failed, message))
    return run, message


def _resumed_history(old: WorkflowRun, run: WorkflowRun, failed: Message,
                     message: Message) -> bytes:
    """Copy the old run's steps to the new one, the failed step's own message replaced by
    the new message; the new message carries the history up to itself, as the failed one did.
    Steps appended after the failed one (other branches of a Promise.all) are kept: the SDK
    needs their results to join."""
    steps = history.load(old)
    position = next((i for i, s in enumerate(steps) if s.message_id == failed.id), None)
    if failed.id == old.init_message_id:
        position = -1  # the trigger failed: no step of the run had its turn yet
    elif position is None:
        raise BadRequest(f"the failed message {failed.id} is not a step of workflow run "
                         f"{old.run_id}: it cannot be resumed")
    copies = [WorkflowStep(
        run=run, message_id=message.id if i == position else s.message_id,
        call_type=s.call_type, body=bytes(s.body), step_id=s.step_id, step_name=s.step_name,
        step_type=s.step_type, concurrent=s.concurrent, target_step=s.target_step,
        created_at=s.created_at) for i, s in enumerate(steps)]
    WorkflowStep.objects.bulk_create(copies)
    if position >= 0 and copies[position].call_type == CallType.FROM_CALLBACK:
        # A context.call result: the SDK reads it from element 0, always inline.
        return history.encode([history.entry(message.id, bytes(copies[position].body),
                                              CallType.FROM_CALLBACK)])
    return delivered.COMPOSED


def _reconfigure(run: WorkflowRun, message: Message, overrides: PublishOptions | None) -> None:
    """The overrides apply to the delivery now (``copy_message`` set retries, retry delay,
    delay and labels on it) and, through the run's config, to every later step."""
    if overrides is None:
        return
    config = run.config
    if overrides.retries is not None:
        config["retries"] = overrides.retries
    if overrides.retry_delay:
        config["retry_delay"] = overrides.retry_delay
    if overrides.labels:
        run.labels, run.label_index = list(overrides.labels), label_index(overrides.labels)
    if overrides.flow_control_key:
        flow = {"key": overrides.flow_control_key,
                "parallelism": overrides.flow_control_parallelism,
                "rate": overrides.flow_control_rate, "period": overrides.flow_control_period}
        config["flow_control"] = flow
        run.flow_control_key = flow["key"]
        message.flow_control_key = flow["key"]
        message.flow_control_parallelism = flow["parallelism"]
        message.flow_control_rate = flow["rate"]
        message.flow_control_period = flow["period"]
    if overrides.failure_callback:
        message.failure_callback = overrides.failure_callback.url
        failure = config.get("failure_callback") or {"headers": {}, "options": {}}
        config["failure_callback"] = {**failure, "url": overrides.failure_callback.url}


def _retarget(run: WorkflowRun, message: Message) -> None:
    """The delivery and the failure callback (of this message and of every later step) name
    the new run."""
    message.workflow_run_id = run.run_id
    message.headers = {**message.headers, RUN_ID_HEADER: [run.run_id],
                       CREATED_AT_HEADER: [str(clock.to_ms(run.created_at))]}
    message.failure_callback_options = _renamed(message.failure_callback_options, run.run_id)
    if failure := run.config.get("failure_callback"):
        failure["options"] = _renamed(failure.get("options"), run.run_id)


def _renamed(options: dict | None, run_id: str) -> dict:
    options = dict(options or {})
    nested = dict(options.get("nested") or {})
    if NESTED_RUN_ID in nested:
        nested[NESTED_RUN_ID] = run_id
        options["nested"] = nested
    return options


def _failure_callback(run: WorkflowRun) -> Message:
    message = Message.objects.filter(tenant_id=run.tenant_id, pk=run.failure_message_id).first()
    if message is None:
        raise BadRequest(f"workflow run {run.run_id} has no failure callback")
    return message


def retry_failure_callback(entry: DlqEntry) -> WorkflowRun:
    """Send the failed failure callback of the entry's run again, as a new message."""
    now = clock.now()
    with transaction.atomic():
        # Locked: two retries at once would send it twice.
        run = WorkflowRun.objects.select_for_update().get(pk=run_of(entry).pk)
        failure = _failure_callback(run)
        if failure.status != Message.Status.FAILED:
            raise BadRequest(f"the failure callback of workflow run {run.run_id} is "
                             f"{failure.status}: only a failed one can be retried")
        retried = copy_message(failure, None, now)
        save_messages([retried], now)
        remove_entries(DlqEntry.objects.filter(message_id=failure.pk))
        run.failure_message_id = retried.id
        run.save(update_fields=["failure_message_id"])
    return run


def cancel_failure_callback(entry: DlqEntry) -> WorkflowRun:
    """Stop the entry's run's failure callback while it is still being sent."""
    run = run_of(entry)
    failure = _failure_callback(run)
    if failure.status not in UNDELIVERED or not cancel(Message.objects.filter(pk=failure.pk)):
        raise BadRequest(f"the failure callback of workflow run {run.run_id} is not in "
                         f"progress ({failure.status})")
    return run
