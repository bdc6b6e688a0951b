"""Workflow runs admin: list and filters, a run's step timeline, cancel, resume, restart."""

from __future__ import annotations

from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_qstash.core import clock
from django_qstash.models import DlqEntry, Message, WorkflowRun, WorkflowStep

from .factories import make_message, make_run

LIST = "/admin/django_qstash/workflowrun/"


def test_list_filters_and_search(admin_client, tenant, tenant_b):
    running = make_run(tenant, labels=("nightly",))
    failed = make_run(tenant, failed=True, url="https://other.example.com/wf")
    theirs = make_run(tenant_b)
    everyone = {running, failed, theirs}
    cases = [("", everyone), (f"?tenant={tenant.pk}", {running, failed}),
             ("?state__exact=RUN_FAILED", {failed}), ("?state__exact=RUN_STARTED",
                                                      {running, theirs}),
             ("?url=https://other.example.com", {failed}), ("?label=nightly", {running}),
             (f"?q={theirs.run_id}", {theirs}), ("?q=wfr_nobody", set())]
    for query, expected in cases:
        response = admin_client.get(LIST + query)
        assert response.status_code == 200, query
        page = response.content.decode()
        for run in everyone:
            assert (run.run_id in page) == (run in expected), (query, run.run_id)
    page = admin_client.get(LIST).content.decode()
    for text in ("RUN_FAILED", "RUN_STARTED", "nightly", "https://other.example.com/wf"):
        assert text in page, text


def test_run_page_shows_the_step_timeline_and_what_is_pending(admin_client, tenant):
    run = make_run(tenant)
    page = admin_client.get(f"{LIST}{run.pk}/change/").content.decode()
    for text in ("&quot;order&quot;: 7",  # the initial body
                 "1 · first", "first-output",  # a step and its output
                 "call request", "https://third.example.com/ask", "&quot;q&quot;: &quot;why&quot;",
                 "call response", "HTTP 201", "X-Answer", "because",
                 "pending",  # the next step's delivery, not sent yet
                 "Cancel run"):
        assert text in page, text
    assert "Resume" not in page  # only a failed run with its DLQ entry resumes


def test_failed_run_page_links_its_dlq_entry_and_offers_resume_and_restart(admin_client,
                                                                             tenant):
    run = make_run(tenant, failed=True)
    entry = DlqEntry.objects.get(dlq_id=run.dlq_id)
    page = admin_client.get(f"{LIST}{run.pk}/change/").content.decode()
    assert f"/dlqentry/{entry.pk}/change/" in page
    assert "Resume" in page and "Restart" in page and "Cancel run" not in page
    assert "failed" in page and "1 attempt" in page


def test_resume_makes_a_new_run_from_the_failed_step(admin_client, tenant):
    old = make_run(tenant, failed=True)
    response = admin_client.post(f"{LIST}{old.pk}/resume/")
    assert response.status_code == 302
    new = WorkflowRun.objects.exclude(pk=old.pk).get()
    assert response["Location"].endswith(f"{LIST}{new.pk}/change/")
    assert new.state == "RUN_STARTED" and new.run_id != old.run_id
    assert [s.step_name for s in WorkflowStep.objects.filter(run=new).order_by("id")] == [
        "first", "ask", "ask", "breaks"]
    delivery = Message.objects.get(workflow_run_id=new.run_id)
    assert delivery.status == "pending" or delivery.status == "active"
    assert not DlqEntry.objects.filter(dlq_id=old.dlq_id).exists()
    page = admin_client.get(response["Location"]).content.decode()
    assert f"Resumed {old.run_id} as {new.run_id}" in page


def test_restart_and_bulk_actions(admin_client, tenant):
    failed = make_run(tenant, failed=True)
    running = make_run(tenant)
    response = admin_client.post(LIST, {"action": "restart_selected",
                                        "_selected_action": [failed.pk, running.pk]})
    assert response.status_code == 302
    new = WorkflowRun.objects.exclude(pk__in=[failed.pk, running.pk]).get()
    assert not WorkflowStep.objects.filter(run=new).exists()
    assert new.init_message_id == Message.objects.get(workflow_run_id=new.run_id).id
    admin_client.post(LIST, {"action": "cancel_selected",
                             "_selected_action": [running.pk, failed.pk]})
    assert WorkflowRun.objects.get(pk=running.pk).state == "RUN_CANCELED"
    assert WorkflowRun.objects.get(pk=failed.pk).state == "RUN_FAILED"
    assert not Message.objects.filter(workflow_run_id=running.run_id, status="pending").exists()


def test_cancel_button(admin_client, tenant):
    run = make_run(tenant)
    response = admin_client.post(f"{LIST}{run.pk}/cancel/")
    assert response.status_code == 302
    assert WorkflowRun.objects.get(pk=run.pk).state == "RUN_CANCELED"
    again = admin_client.post(f"{LIST}{run.pk}/cancel/", follow=True).content.decode()
    assert "has already ended" in again


def test_viewers_cannot_act(client, tenant):
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_workflowrun"))
    user.groups.add(Group.objects.create(name=f"qstash-tenant:{tenant.name}"))
    client.force_login(user)
    run = make_run(tenant, failed=True)
    page = client.get(f"{LIST}{run.pk}/change/").content.decode()
    assert "Resume" not in page
    for action in ("resume", "restart", "cancel"):
        assert client.post(f"{LIST}{run.pk}/{action}/").status_code == 403
    client.post(LIST, {"action": "resume_selected", "_selected_action": [run.pk]})
    assert WorkflowRun.objects.count() == 1


def test_run_page_reads_a_fixed_number_of_queries_whatever_the_steps(admin_client, tenant):
    """Each step delivery's body is the history up to it: the page must not read them, nor
    ask once per step."""
    small, big = make_run(tenant), make_run(tenant)
    now = clock.now()
    deliveries = []
    for n in range(40):
        delivery = make_message(tenant, url=big.url, workflow_run_id=big.run_id,
                                body=b"x" * 10_000)
        deliveries.append(delivery.id)
        WorkflowStep.objects.create(run=big, message_id=delivery.id, step_id=10 + n,
                                    step_name=f"s{n}", step_type="Run", created_at=now,
                                    body=b'{"out": "1"}')
    admin_client.get(f"{LIST}{small.pk}/change/")  # warm: session, content types
    counts, body_reads = [], []
    for run in (small, big):
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(f"{LIST}{run.pk}/change/").status_code == 200
        counts.append(len(queries))
        body_reads.append([q["sql"] for q in queries.captured_queries
                           if '"django_qstash_message"."body"' in q["sql"]])
    assert counts[0] == counts[1]
    # Only the context.call request's body is read.
    assert len(body_reads[1]) == 1
    assert not any(delivery in body_reads[1][0] for delivery in deliveries)
