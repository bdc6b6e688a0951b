"""Finished task results are purged with finished messages; unfinished ones stay."""

from __future__ import annotations

from datetime import timedelta

from django.utils import timezone

from django_qstash.engine.retention import Policy, purge
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import TaskResultRecord


def make(tenant, name: str, status: str, finished_days_ago: float | None) -> TaskResultRecord:
    now = timezone.now()
    finished = None if finished_days_ago is None else now - timedelta(days=finished_days_ago)
    return TaskResultRecord.objects.create(
        id=name, tenant=tenant, backend="default", task_path="app.tasks.t", queue_name="default",
        status=status, enqueued_at=now - timedelta(days=30), finished_at=finished)


def test_purge_removes_finished_results_older_than_message_retention(db):
    tenant = create_tenant("tests")
    make(tenant, "old-ok", "SUCCESSFUL", 10)
    make(tenant, "old-failed", "FAILED", 10)
    make(tenant, "young", "SUCCESSFUL", 0.1)
    make(tenant, "waiting", "READY", None)
    make(tenant, "running", "RUNNING", None)
    totals = purge(Policy(messages=86400, events=None, dlq=None, batch_size=1))
    assert totals["tasks"] == 2
    assert set(TaskResultRecord.objects.values_list("pk", flat=True)) == {
        "young", "waiting", "running"}


def test_results_are_kept_forever_when_messages_are(db):
    make(create_tenant("tests"), "old-ok", "SUCCESSFUL", 1000)
    assert purge(Policy(messages=None, events=None, dlq=None, batch_size=10))["tasks"] == 0
    assert TaskResultRecord.objects.exists()
