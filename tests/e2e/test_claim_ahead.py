"""Messages due soon are claimed ahead and sent exactly when due, never early."""

from __future__ import annotations

import math
import time
from datetime import timedelta

import pytest

from django_qstash.core import clock
from django_qstash.engine.dispatcher import claim_unqueued
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Event, Message

from .helpers import api, wait_for_state


def test_a_burst_due_in_one_second_arrives_in_that_second(qstash, sink):
    due = math.ceil(time.time()) + 3
    items = [{"destination": f"{sink.url}/burst/{i}", "body": "x",
              "headers": {"Upstash-Not-Before": str(due)}} for i in range(60)]
    response = api(qstash, "POST", "/v2/batch", json=items)
    assert response.status_code == 200, response.text
    arrivals = sink.wait_for(60, "/burst/", timeout=20)
    times = sorted(arrival.at for arrival in arrivals)
    assert times[0] >= due, f"arrived {due - times[0]:.3f} s early"
    assert times[-1] - due < 1.5, f"last arrival {times[-1] - due:.3f} s after the due second"
    message_id = response.json()[0]["messageId"]
    wait_for_state(qstash, message_id, "DELIVERED")
    active = api(qstash, "GET", "/v2/events", params={"messageId": message_id,
                                                      "state": "ACTIVE"}).json()["events"]
    # The log says when it went out (its due time), not when the worker took it in hand.
    assert [e["time"] for e in active] == [due * 1000]


@pytest.mark.django_db(transaction=True)
def test_only_messages_due_within_the_window_are_claimed(settings):
    settings.QSTASH = {**settings.QSTASH, "CLAIM_AHEAD_SECONDS": 2}
    tenant = create_tenant("ahead")
    now = clock.now()
    soon, later = [publish_specs(tenant, [prepare(tenant, "https://example.com/x", b"",
                                                  [("Upstash-Delay", delay)])])[0].message_id
                   for delay in ("1s", "5s")]
    claimed = dict(claim_unqueued(now, 10))
    assert soon in claimed and later not in claimed
    message = Message.objects.get(id=soon)
    assert message.status == "active"
    # Its lease runs from its due time, not from the claim.
    assert message.lease_expires_at - message.not_before >= timedelta(seconds=60)
    assert Event.objects.get(message_id=soon, state="ACTIVE").time == message.not_before


@pytest.mark.django_db(transaction=True)
def test_claiming_ahead_can_be_turned_off(settings):
    settings.QSTASH = {**settings.QSTASH, "CLAIM_AHEAD_SECONDS": 0}
    tenant = create_tenant("ahead")
    [result] = publish_specs(tenant, [prepare(tenant, "https://example.com/x", b"",
                                              [("Upstash-Delay", "1s")])])
    assert claim_unqueued(clock.now(), 10) == []
    assert Message.objects.get(id=result.message_id).status == "pending"
