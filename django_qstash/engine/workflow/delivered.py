"""Step deliveries' bodies, composed when sent from the run's stored steps."""

from __future__ import annotations

from collections import defaultdict
from functools import reduce
from operator import or_

from django.db.models import Q

from django_qstash.engine.workflow import history
from django_qstash.models import Message, WorkflowRun, WorkflowStep

# What a step message stores as its body: the run's steps already hold everything its
# delivery carries. Storing the history up to each step made a run's storage grow with the
# square of its length.
COMPOSED = b""


def is_composed(message: Message) -> bool:
    """A workflow step message whose body is made when it is sent. A body stored in full
    (messages accepted before bodies were composed, context.call results) is sent as is."""
    return bool(message.workflow_run_id) and not bytes(message.body)


def fill_bodies(messages: list[Message]) -> None:
    """Give each composed step message in ``messages`` the history up to itself: the
    initial body, then the run's steps in append order up to and including its own — not
    the steps appended since (a retry of an early parallel branch carries what its first
    attempt did). Two queries for the whole list; no query when none is composed."""
    bodies = composed_bodies(messages)
    for message in filter(is_composed, messages):
        message.body = bodies.get(message.id, message.body)


def composed_bodies(messages: list[Message]) -> dict[str, bytes]:
    """The bodies ``fill_bodies`` gives, by message id."""
    wanted = [m for m in messages if is_composed(m)]
    if not wanted:
        return {}
    keys = {(m.tenant_id, m.workflow_run_id) for m in wanted}
    runs = {(run.tenant_id, run.run_id): run for run in WorkflowRun.objects.filter(
        reduce(or_, (Q(tenant_id=tenant_id, run_id=run_id) for tenant_id, run_id in keys)))
        .only("tenant_id", "run_id", "init_message_id", "initial_body")}
    steps: dict[int, list[WorkflowStep]] = defaultdict(list)
    for step in (WorkflowStep.objects.filter(run_id__in=[run.pk for run in runs.values()])
                 .only("run_id", "message_id", "call_type", "body").order_by("id")):
        steps[step.run_id].append(step)
    return {message.id: history_up_to(run, steps[run.pk], message.id) for message in wanted
            if (run := runs.get((message.tenant_id, message.workflow_run_id))) is not None}


def history_up_to(run: WorkflowRun, steps: list[WorkflowStep], message_id: str) -> bytes:
    """The delivered body of ``message_id``; empty (the SDK fetches the history) when it is
    neither the run's trigger nor one of its steps."""
    if message_id == run.init_message_id:
        return history.delivered_body(history.entries(run, []))
    own = next((i for i, step in enumerate(steps) if step.message_id == message_id), None)
    if own is None:
        return COMPOSED
    return history.delivered_body(history.entries(run, steps[:own + 1]))


def materialized(message: Message) -> bytes:
    """The body ``message`` is delivered with, for a copy sent under a new id (whose id
    names no step of the run)."""
    return composed_bodies([message]).get(message.id, bytes(message.body))


def keep_sent_body(message: Message) -> None:
    """A dead-lettered step message keeps the body it was sent with in its row: its DLQ
    entry may outlive the run (retention) and still shows it and retries with it."""
    if is_composed(message):
        message.body = materialized(message)
        Message.objects.filter(pk=message.pk).update(body=message.body)
