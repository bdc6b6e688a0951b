"""Workflow engine pieces on their own: retention of ended runs, and what plain messages pay."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_qstash.core import clock
from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.engine.lifecycle import record_outcome
from django_qstash.engine.publishing import prepare, publish, publish_specs
from django_qstash.engine.retention import Policy, purge
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken, Message, WorkflowRun, WorkflowStep

pytestmark = pytest.mark.django_db(transaction=True)
TRIGGER = [("Upstash-Workflow-Init", "true"), ("Upstash-Workflow-RunId", "wfr_t")]


@pytest.fixture
def tenant():
    tenant = create_tenant("engine")
    ApiToken.issue(tenant, name="t")
    return tenant


def test_ended_runs_are_purged_with_their_steps_running_ones_kept(tenant):
    now = clock.now()
    old = WorkflowRun.objects.create(tenant=tenant, run_id="wfr_old", url="https://x/a",
                                     init_message_id="m1", created_at=now - timedelta(days=9),
                                     state=WorkflowRun.State.SUCCESS,
                                     completed_at=now - timedelta(days=8))
    WorkflowStep.objects.create(run=old, message_id="m2", created_at=now - timedelta(days=8))
    young = WorkflowRun.objects.create(tenant=tenant, run_id="wfr_young", url="https://x/a",
                                       init_message_id="m3", created_at=now,
                                       state=WorkflowRun.State.FAILED, completed_at=now)
    running = WorkflowRun.objects.create(tenant=tenant, run_id="wfr_run", url="https://x/a",
                                         init_message_id="m4",
                                         created_at=now - timedelta(days=30))
    policy = Policy(messages=86400, events=None, dlq=None, batch_size=10)
    assert purge(policy, now=now, kinds=("workflows",)) == {"workflows": 1}
    assert set(WorkflowRun.objects.values_list("pk", flat=True)) == {young.pk, running.pk}
    assert not WorkflowStep.objects.exists()
    forever = Policy(messages=None, events=None, dlq=None, batch_size=10)
    assert purge(forever, now=now + timedelta(days=99), kinds=("workflows",)) == {"workflows": 0}


def run_tables(context: CaptureQueriesContext) -> list[str]:
    return [q["sql"] for q in context.captured_queries
            if "workflowrun" in q["sql"].lower() or "workflowstep" in q["sql"].lower()]


def test_plain_messages_never_touch_the_workflow_tables(tenant, settings):
    """A message without workflow headers costs what it cost before: no query of runs or
    steps when it is published, delivered or failed (its row just has an empty run id)."""
    # Held: the outcome below is recorded by the test alone, never also by a worker sending
    # the message (which would race it and reach beyond loopback).
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": "tests.support.held.HeldTransport"}
    with CaptureQueriesContext(connection) as published:
        message_id = publish(tenant, "https://example.com/a", b"x", [("Upstash-Retries", "0")],
                             ).message_id
    assert published.captured_queries and not run_tables(published)
    Message.objects.filter(pk=message_id).update(status=Message.Status.ACTIVE, claim_token=1)
    failure = DeliveryOutcome(500, {}, b"no", "destination answered 500", 3)
    with CaptureQueriesContext(connection) as recorded:
        record_outcome(message_id, 1, failure, clock.now())
    assert Message.objects.get(pk=message_id).status == Message.Status.FAILED
    assert recorded.captured_queries and not run_tables(recorded)


def test_a_batch_with_a_step_of_an_ended_run_is_refused_whole(tenant):
    specs = [prepare(tenant, "https://example.com/wf", b"{}", TRIGGER)]
    publish_specs(tenant, specs)
    WorkflowRun.objects.filter(run_id="wfr_t").update(state=WorkflowRun.State.CANCELED)
    step = [("Upstash-Workflow-Init", "false"), ("Upstash-Workflow-RunId", "wfr_t")]
    before = Message.objects.count()
    with pytest.raises(Exception, match="already finished"):
        publish_specs(tenant, [prepare(tenant, "https://example.com/other", b"x", []),
                               prepare(tenant, "https://example.com/wf", b"{}", step)])
    assert Message.objects.count() == before
