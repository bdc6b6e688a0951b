"""A dispatcher tick first asks whether anything is claimable; the answer never hides work."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_qstash.core import clock, ids
from django_qstash.engine.dispatcher import Dispatcher
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message

pytestmark = pytest.mark.django_db
NOW = clock.now()
HORIZON = NOW + timedelta(seconds=2)
Status = Message.Status


def row(tenant, **fields) -> Message:
    values = {"url": "https://example.com/", "not_before": NOW, "created_at": NOW,
              "status": Status.PENDING, **fields}
    return Message.objects.create(id=ids.message_id(), tenant=tenant, **values)


# What each claim step takes: unqueued (due, or due within the claim-ahead horizon), queued,
# flow-controlled, and a lease that ran out.
CLAIMABLE = {
    "due now": {},
    "due within the horizon": {"not_before": NOW + timedelta(seconds=1)},
    "queued": {"queue_name": "q"},
    "flow-controlled": {"flow_control_key": "k"},
    "lease lapsed": {"status": Status.ACTIVE, "lease_expires_at": NOW - timedelta(seconds=1)},
}
NOT_CLAIMABLE = {
    "due later": {"not_before": NOW + timedelta(seconds=3)},
    "leased": {"status": Status.ACTIVE, "lease_expires_at": NOW + timedelta(seconds=60)},
    "delivered": {"status": Status.DELIVERED},
    "canceled": {"status": Status.CANCELED},
}


@pytest.mark.parametrize("case", CLAIMABLE)
def test_every_kind_of_claimable_row_is_seen(case):
    row(create_tenant("claimable"), **CLAIMABLE[case])
    assert Message.objects.claimable_by(HORIZON, NOW).exists()


@pytest.mark.parametrize("case", NOT_CLAIMABLE)
def test_rows_no_step_would_claim_are_not(case):
    row(create_tenant("idle"), **NOT_CLAIMABLE[case])
    assert not Message.objects.claimable_by(HORIZON, NOW).exists()


def test_an_idle_tick_claims_nothing_and_still_runs_its_hooks():
    ran = []
    row(create_tenant("idle-hooks"), status=Status.ACTIVE,
        lease_expires_at=clock.now() + timedelta(seconds=60))
    assert Dispatcher(tick_hooks=(ran.append,)).tick() == 0
    assert len(ran) == 1
