"""Reviving failed runs, engine side: which steps a resumed run keeps, what its delivery
carries, and that retention keeps a failed run while its DLQ entry is there."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest

from django_qstash.core import clock, ids
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.retention import Policy, purge
from django_qstash.engine.tenants import create_tenant
from django_qstash.engine.workflow import dlq
from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.exceptions import BadRequest
from django_qstash.models import DlqEntry, Message, WorkflowRun, WorkflowStep
from tests.operator.factories import make_message, make_run

pytestmark = pytest.mark.django_db


@pytest.fixture
def tenant():
    return create_tenant("revive")


def delivered(run: WorkflowRun) -> Message:
    """The run's message with the body it is sent with."""
    message = Message.objects.get(workflow_run_id=run.run_id)
    fill_bodies([message])
    return message


def test_resuming_a_branch_of_a_promise_all_keeps_the_results_appended_after_it(tenant):
    old = make_run(tenant, failed=True)
    failed_step = WorkflowStep.objects.get(run=old, step_name="breaks")
    WorkflowStep.objects.create(run=old, message_id="msg_branch", step_id=4, step_name="other",
                                step_type="Run", concurrent=2, created_at=clock.now(),
                                body=b'{"stepId": 4, "stepName": "other", "out": "2"}')
    [new] = dlq.revive([DlqEntry.objects.get(dlq_id=old.dlq_id)], dlq.RESUME)
    message = delivered(new)
    copied = list(WorkflowStep.objects.filter(run=new).order_by("id"))
    assert [s.step_name for s in copied] == ["first", "ask", "ask", "breaks", "other"]
    assert copied[3].message_id == message.id != failed_step.message_id
    assert copied[4].message_id == "msg_branch"
    # The delivery carries the history up to itself, as the failed one did.
    history = json.loads(bytes(message.body))
    assert [e["messageId"] for e in history] == [
        old.init_message_id, *(s.message_id for s in copied[:4])]
    assert history[-1]["messageId"] == message.id


def test_resuming_a_failed_call_result_delivers_it_inline_as_element_zero(tenant):
    old = make_run(tenant)
    result_step = WorkflowStep.objects.get(run=old, call_type="fromCallback")
    Message.objects.filter(workflow_run_id=old.run_id, status="pending").delete()
    result = Message.objects.get(pk=result_step.message_id)
    entry = DlqEntry.objects.create(dlq_id=ids.dlq_id(), tenant=tenant, message=result,
                                    created_at=clock.now())
    WorkflowRun.objects.filter(pk=old.pk).update(state="RUN_FAILED", dlq_id=entry.dlq_id)
    [new] = dlq.revive([entry], dlq.RESUME)
    message = delivered(new)
    [element] = json.loads(bytes(message.body))
    assert element["messageId"] == message.id and element["callType"] == "fromCallback"
    assert json.loads(base64.b64decode(element["body"]))["status"] == 201


def test_a_failed_message_that_is_no_step_of_its_run_is_refused(tenant):
    old = make_run(tenant, failed=True)
    WorkflowStep.objects.filter(run=old, step_name="breaks").delete()
    with pytest.raises(BadRequest, match="not a step"):
        dlq.revive([DlqEntry.objects.get(dlq_id=old.dlq_id)], dlq.RESUME)
    assert DlqEntry.objects.filter(dlq_id=old.dlq_id).exists()  # all or nothing
    assert WorkflowRun.objects.count() == 1


def test_one_chosen_run_id_names_one_run(tenant):
    entries = [DlqEntry.objects.get(dlq_id=make_run(tenant, failed=True).dlq_id)
               for _ in range(2)]
    with pytest.raises(BadRequest, match="one DLQ id"):
        dlq.revive(entries, dlq.RESTART, run_id="wfr_mine")
    with pytest.raises(BadRequest, match="already exists"):
        dlq.revive(entries[:1], dlq.RESTART, run_id=entries[1].message.workflow_run_id)


def test_retention_keeps_a_failed_run_while_its_dlq_entry_is_there(tenant):
    run = make_run(tenant, failed=True)
    later = clock.now() + timedelta(days=30)
    keep_dlq = Policy(messages=86400, events=None, dlq=None, batch_size=10)
    assert purge(keep_dlq, now=later, kinds=("workflows",)) == {"workflows": 0}
    remove_entries(DlqEntry.objects.filter(dlq_id=run.dlq_id))
    assert purge(keep_dlq, now=later, kinds=("workflows",)) == {"workflows": 1}
    assert not WorkflowRun.objects.filter(pk=run.pk).exists()


def test_a_failure_callback_in_progress_is_cancelled_not_retried(tenant):
    run = make_run(tenant, failed=True)
    entry = DlqEntry.objects.get(dlq_id=run.dlq_id)
    with pytest.raises(BadRequest, match="no failure callback"):
        dlq.retry_failure_callback(entry)
    failure = make_message(tenant, url=run.url, status="pending",
                           kind=Message.Kind.FAILURE_CALLBACK)
    WorkflowRun.objects.filter(pk=run.pk).update(failure_message_id=failure.id)
    with pytest.raises(BadRequest, match="only a failed one"):
        dlq.retry_failure_callback(entry)
    dlq.cancel_failure_callback(entry)
    assert Message.objects.get(pk=failure.id).status == Message.Status.CANCELED
    with pytest.raises(BadRequest, match="not in progress"):
        dlq.cancel_failure_callback(entry)
