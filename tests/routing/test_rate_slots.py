"""Send-time rate slots: taken under the key's lock, logged at the real send, leases kept."""

from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone

import pytest
from django.db import connection

from django_qstash.core import clock, ids
from django_qstash.engine.cancellation import cancel
from django_qstash.engine.dispatcher import claim_flow_controlled
from django_qstash.engine.flow_control import MAX_SLOT_WAIT_SECONDS, take_send_slot
from django_qstash.engine.flow_control import RATE_GUARD_SECONDS as GUARD
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken, FlowControlKey, Message

pytestmark = pytest.mark.django_db(transaction=True)
START = datetime(2026, 1, 1, tzinfo=timezone.utc)


@pytest.fixture
def frozen():
    previous, frozen = clock.get_clock(), clock.FrozenClock(START)
    clock.set_clock(frozen)
    yield frozen
    clock.set_clock(previous)


class FakeSleep:
    """Sleeping moves the frozen clock; ``during`` runs in the middle of the n-th sleep."""

    def __init__(self, frozen, during=None) -> None:
        self.frozen, self.during, self.sleeps = frozen, during, []

    def __call__(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        if self.during:
            self.during(len(self.sleeps))
        self.frozen.advance(seconds)


def make_key(rate: int, period: int = 1, key: str = "slots") -> FlowControlKey:
    tenant = create_tenant("slots")
    return FlowControlKey.objects.create(tenant=tenant, key=key, rate_max=rate, rate_period=period)


def claimed_message(row: FlowControlKey, status: str = "active") -> Message:
    now = clock.now()
    return Message.objects.create(
        id=ids.message_id(), tenant_id=row.tenant_id, url="https://example.com/hook",
        not_before=now, created_at=now, status=status, claim_token=1,
        lease_expires_at=now + timedelta(seconds=5) if status == "active" else None,
        flow_control_key=row.key, flow_control_rate=row.rate_max,
        flow_control_period=row.rate_period, headers={}, body=b"x")


def send_log(row: FlowControlKey) -> list[float]:
    return FlowControlKey.objects.get(pk=row.pk).recent_starts


def test_rate_slots_are_free_then_waited_for(frozen):
    row = make_key(rate=3)
    sleep = FakeSleep(frozen)
    for _ in range(3):
        assert take_send_slot(claimed_message(row), sleep=sleep)
        frozen.advance(0.1)
    assert sleep.sleeps == []
    assert take_send_slot(claimed_message(row), sleep=sleep)
    # The fourth waits from t=0.3 until the first start (t=0) has left the window.
    assert sleep.sleeps == [pytest.approx(0.7 + GUARD)]
    t0 = START.timestamp()
    assert send_log(row) == pytest.approx([t0 + 0.1, t0 + 0.2, t0 + 1 + GUARD], abs=1e-3)


def test_the_log_holds_send_times_not_claim_times(frozen):
    """Claims and sends have logs of their own: one delivery is never counted twice."""
    row = make_key(rate=2)
    pending = [claimed_message(row, status="pending") for _ in range(4)]
    claimed = claim_flow_controlled(clock.now(), 10)
    assert len(claimed) == 2  # the claim log's coarse filter
    frozen.advance(0.5)
    sleep = FakeSleep(frozen)
    for message_id, _ in claimed:
        message = Message.objects.get(pk=message_id)
        assert take_send_slot(message, sleep=sleep)
    assert sleep.sleeps == []  # the two claims did not take the sends' places
    assert send_log(row) == [START.timestamp() + 0.5] * 2
    assert len(claim_flow_controlled(clock.now(), 10)) == 0  # claims still in their window
    frozen.advance(0.5 + GUARD)
    assert len(claim_flow_controlled(clock.now(), 10)) == 2
    assert {m.pk for m in pending} == set(Message.objects.values_list("pk", flat=True))


def test_a_longer_period_waits_longer_and_renews_the_lease(frozen, settings):
    settings.QSTASH = {**settings.QSTASH, "LEASE_GRACE_SECONDS": 2}
    row = make_key(rate=1, period=5)
    assert take_send_slot(claimed_message(row))
    frozen.advance(1)
    waiting = claimed_message(row)
    sleep = FakeSleep(frozen)
    assert take_send_slot(waiting, sleep=sleep)
    # Woken every second (half the grace) to renew; the last nap ends as the slot frees.
    assert sleep.sleeps == [1, 1, 1, 1, pytest.approx(GUARD)]
    waiting.refresh_from_db()
    sent_at = START + timedelta(seconds=5 + GUARD)
    assert send_log(row) == pytest.approx([sent_at.timestamp()], abs=1e-3)  # the first left
    # The lease runs from the real send: the whole timeout plus the grace.
    assert waiting.lease_expires_at == pytest.approx(sent_at + timedelta(seconds=60 + 2),
                                                     abs=timedelta(milliseconds=1))


def test_a_slot_too_far_off_hands_the_message_back(frozen):
    row = make_key(rate=1, period=60)
    assert take_send_slot(claimed_message(row))
    frozen.advance(1)
    late = claimed_message(row)
    assert not take_send_slot(late, sleep=FakeSleep(frozen))
    assert 59 > MAX_SLOT_WAIT_SECONDS
    late.refresh_from_db()
    assert (late.status, late.lease_expires_at, late.retried) == ("pending", None, 0)
    assert late.not_before == pytest.approx(START + timedelta(seconds=60 + GUARD),
                                            abs=timedelta(milliseconds=1))
    assert send_log(row) == [START.timestamp()]


def test_a_claim_lost_while_waiting_is_not_sent(frozen):
    row = make_key(rate=1)
    assert take_send_slot(claimed_message(row))
    waiting = claimed_message(row)

    def reclaimed_elsewhere(nth: int) -> None:
        Message.objects.filter(pk=waiting.pk).update(claim_token=2)

    assert not take_send_slot(waiting, sleep=FakeSleep(frozen, during=reclaimed_elsewhere))
    assert send_log(row) == [START.timestamp()]


def test_unlimited_or_queued_messages_take_no_slot(frozen):
    row = make_key(rate=1)
    FlowControlKey.objects.filter(pk=row.pk).update(rate_max=None)  # e.g. pinned to no rate
    for _ in range(3):
        assert take_send_slot(claimed_message(row), sleep=FakeSleep(frozen))
    queued = claimed_message(row)
    queued.queue_name = "q"
    assert take_send_slot(queued, sleep=pytest.fail)
    assert send_log(row) == []


def test_threads_racing_for_slots_keep_to_the_rate():
    """Real clock, one thread per message, as the HTTP pool does: the lock decides."""
    row = make_key(rate=4)
    messages = [claimed_message(row) for _ in range(10)]
    for message in messages:  # the real clock is ahead of the frozen start: keep leases live
        Message.objects.filter(pk=message.pk).update(
            lease_expires_at=clock.now() + timedelta(seconds=60))
    started: list[float] = []

    def send(message: Message) -> None:
        try:
            if take_send_slot(message):
                started.append(time.time())
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(m,)) for m in messages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(started) == 10
    started.sort()
    assert max(sum(1 for t in started if s <= t < s + 1.0) for s in started) <= 4
    assert started[-1] - started[0] < 3.5  # ~4 a second, not 2


class KeyApi:
    """The flow-control endpoints, called with a token of the key's tenant."""

    def __init__(self, client, row: FlowControlKey) -> None:
        _, token = ApiToken.issue(row.tenant, name="slots")
        self.client, self.key = client, row.key
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}

    def reset_rate(self) -> None:
        response = self.client.post(f"/v2/flowControl/{self.key}/resetRate", **self.auth)
        assert response.status_code == 200, response.content

    def rate_count(self) -> int:
        return self.client.get(f"/v2/flowControl/{self.key}", **self.auth).json()["rateCount"]


def claim_one(row: FlowControlKey) -> Message:
    pending = claimed_message(row, status="pending")
    assert [item[0] for item in claim_flow_controlled(clock.now(), 10)] == [pending.pk]
    return Message.objects.get(pk=pending.pk)


def test_a_send_claimed_before_a_rate_reset_is_not_counted_after_it(frozen, client):
    """resetRate restarts the count at 0: a message claimed before the reset belongs to the
    window that was reset, even when its worker takes its send slot after it."""
    row = make_key(rate=2, period=60)
    keys = KeyApi(client, row)
    before = claim_one(row)
    keys.reset_rate()
    frozen.advance(0.01)
    assert take_send_slot(before, sleep=pytest.fail)
    assert keys.rate_count() == 0
    after = claim_one(row)  # claimed after the reset: counted in the new window
    assert take_send_slot(after, sleep=pytest.fail)
    assert keys.rate_count() == 1


def test_a_rate_reset_while_a_send_waits_for_its_slot(frozen, client):
    row = make_key(rate=1, period=5)
    keys = KeyApi(client, row)
    assert take_send_slot(claim_one(row))
    frozen.advance(5 + GUARD)  # the claim window has passed, the send window too
    first_sent_again = claim_one(row)
    assert take_send_slot(first_sent_again, sleep=pytest.fail)
    waiting = claimed_message(row)  # e.g. reclaimed after a crash: waits for the send slot
    sleep = FakeSleep(frozen, during=lambda nth: keys.reset_rate() if nth == 1 else None)
    assert take_send_slot(waiting, sleep=sleep)
    assert len(sleep.sleeps) == 1  # sent as soon as the reset freed the window
    assert keys.rate_count() == 0


def test_a_cancel_while_waiting_for_a_slot_stops_the_send(frozen):
    row = make_key(rate=1, period=5)
    assert take_send_slot(claimed_message(row))
    waiting = claimed_message(row)

    def cancelled(nth: int) -> None:
        cancel(Message.objects.filter(pk=waiting.pk))

    assert not take_send_slot(waiting, sleep=FakeSleep(frozen, during=cancelled))
    assert send_log(row) == [START.timestamp()]


def test_a_reset_leaves_due_messages_with_a_free_place_to_the_old_window(frozen, client):
    """Due with a free place at the reset, a message only waits for the dispatcher's next
    tick: it belongs to the old window. What the old window had no place for is counted."""
    row = make_key(rate=2, period=60)
    keys = KeyApi(client, row)
    waiting = [claimed_message(row, status="pending") for _ in range(3)]
    for offset, message in enumerate(waiting):  # claimed in this order
        Message.objects.filter(pk=message.pk).update(not_before=START - timedelta(seconds=3 - offset))
    keys.reset_rate()
    claimed = claim_flow_controlled(clock.now(), 10)
    assert [item[0] for item in claimed] == [m.pk for m in waiting[:2]]
    for message_id, _ in claimed:
        assert take_send_slot(Message.objects.get(pk=message_id), sleep=pytest.fail)
    assert keys.rate_count() == 0
    # Those two took no place in the new window's claim log either: the third goes now.
    [(third, _)] = claim_flow_controlled(clock.now(), 10)
    assert third == waiting[2].pk
    assert take_send_slot(Message.objects.get(pk=third), sleep=pytest.fail)
    assert keys.rate_count() == 1
