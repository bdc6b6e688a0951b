"""Ending runs: the SDK's success report, cancelling one run or many."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from django_qstash.core import clock
from django_qstash.engine.cancellation import cancel as cancel_messages
from django_qstash.engine.workflow.invoke_results import report_ended
from django_qstash.engine.workflow.waits import drop_waiters
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import Message, WorkflowRun

State = WorkflowRun.State


def get_run(tenant_id: int, run_id: str) -> WorkflowRun:
    run = WorkflowRun.objects.filter(tenant_id=tenant_id, run_id=run_id).first()
    if run is None:
        raise NotFound(f"workflow run {run_id} not found")
    return run


def finish(tenant_id: int, run_id: str, result: str | None) -> None:
    """The SDK reports the run's result once its last step returned. Reported again (a
    step delivered twice), it changes nothing."""
    with transaction.atomic():
        run = WorkflowRun.objects.select_for_update().filter(
            tenant_id=tenant_id, run_id=run_id).first()
        if run is None:
            raise NotFound(f"workflow run {run_id} not found")
        if not run.is_running:
            return
        run.state, run.result, run.completed_at = State.SUCCESS, result, clock.now()
        run.save(update_fields=["state", "result", "completed_at"])
        drop_waiters([run.pk])
        report_ended(tenant_id, [run_id])


def cancel_one(tenant_id: int, run_id: str) -> None:
    run = get_run(tenant_id, run_id)
    if not run.is_running:
        raise BadRequest(f"workflow run {run_id} has already finished ({run.state})")
    cancel_runs(WorkflowRun.objects.filter(pk=run.pk))


def cancel_runs(runs: QuerySet) -> int:
    """Cancel the running runs of ``runs`` and their undelivered step messages."""
    now = clock.now()
    with transaction.atomic():
        picked = list(runs.filter(state=State.STARTED).select_for_update()
                      .values_list("pk", "tenant_id", "run_id"))
        if not picked:
            return 0
        WorkflowRun.objects.filter(pk__in=[pk for pk, _, _ in picked]).update(
            state=State.CANCELED, completed_at=now)
        drop_waiters([pk for pk, _, _ in picked])
        by_tenant: dict[int, list[str]] = {}
        for _, tenant_id, run_id in picked:
            by_tenant.setdefault(tenant_id, []).append(run_id)
        for tenant_id, run_ids in by_tenant.items():
            cancel_messages(Message.objects.filter(tenant_id=tenant_id,
                                                   workflow_run_id__in=run_ids))
            report_ended(tenant_id, run_ids)
    return len(picked)
