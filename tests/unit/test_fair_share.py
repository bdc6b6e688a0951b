"""What the per-tenant and per-host shares of delivery slots promise, and what they leave alone."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pytest

from django_qstash.delivery.fair_share import FairShare, host_of, share_cap, wait_allowance


def run(coroutine):
    return asyncio.run(coroutine)


async def settle():
    for _ in range(5):
        await asyncio.sleep(0)


def test_shares_default_to_half_and_never_exceed_the_process_slots():
    assert share_cap(None, 100) == 50
    assert share_cap(None, 1) == 1
    assert share_cap(500, 100) == 100
    assert share_cap(0, 100) == 1


def test_settings_choose_the_shares(settings):
    settings.QSTASH = {**settings.QSTASH, "DELIVERY_CONCURRENCY": 10,
                       "DELIVERY_CONCURRENCY_PER_TENANT": 4,
                       "DELIVERY_CONCURRENCY_PER_HOST": 50}
    share = FairShare.from_settings()
    assert (share.total, share.per_tenant, share.per_host) == (10, 4, 10)


def test_hosts_are_told_apart_by_port():
    assert host_of("http://127.0.0.1:8001/a") != host_of("http://127.0.0.1:8002/a")
    assert host_of("https://Example.com/x") == host_of("https://example.com:443/y")


def test_a_tenant_alone_gets_its_share_and_with_full_shares_every_slot():
    async def scenario(per_tenant, per_host):
        share = FairShare(total=8, per_tenant=per_tenant, per_host=per_host)
        hosts = [f"h{i}:80" for i in range(8)]
        started = [await share.acquire(1, hosts[i % 8], timeout=0) for i in range(20)]
        return sum(started)

    assert run(scenario(per_tenant=4, per_host=4)) == 4
    assert run(scenario(per_tenant=8, per_host=8)) == 8  # shares off: the whole process


def test_a_tenant_at_its_share_waits_and_another_tenant_starts_at_once():
    async def scenario():
        share = FairShare(total=4, per_tenant=2, per_host=4)
        assert await share.acquire(1, "slow:80", None)
        assert await share.acquire(1, "slow:80", None)
        third = asyncio.ensure_future(share.acquire(1, "slow:80", None))
        await settle()
        assert not third.done()
        assert await share.acquire(2, "fast:80", timeout=0)
        share.release(1, "slow:80")
        assert await third
        return share.in_flight

    assert run(scenario()) == 3


def test_a_host_at_its_share_holds_every_tenants_sends_to_it():
    async def scenario():
        share = FairShare(total=4, per_tenant=4, per_host=1)
        assert await share.acquire(1, "slow:80", None)
        return (await share.acquire(2, "slow:80", timeout=0),
                await share.acquire(2, "other:80", timeout=0))

    assert run(scenario()) == (False, True)


def test_one_pairs_sends_start_in_the_order_they_asked():
    async def scenario():
        share = FairShare(total=1, per_tenant=1, per_host=1)
        order = []

        async def send(n):
            await share.acquire(1, "h:80", None)
            order.append(n)

        await share.acquire(1, "h:80", None)
        tasks = [asyncio.ensure_future(send(n)) for n in range(5)]
        await settle()
        for _ in range(5):
            share.release(1, "h:80")
            await settle()
        await asyncio.gather(*tasks)
        return order

    assert run(scenario()) == [0, 1, 2, 3, 4]


def test_waiting_tenants_take_turns_for_freed_slots():
    async def scenario():
        share = FairShare(total=1, per_tenant=1, per_host=1)
        order = []

        async def send(tenant, host):
            await share.acquire(tenant, host, None)
            order.append(tenant)

        await share.acquire(9, "busy:80", None)
        tasks = [asyncio.ensure_future(send(1, "x:80")) for _ in range(4)]
        await settle()
        tasks += [asyncio.ensure_future(send(2, "y:80")) for _ in range(2)]
        await settle()
        share.release(9, "busy:80")
        for _ in range(6):
            await settle()
            share.release(order[-1], "x:80" if order[-1] == 1 else "y:80")
        await asyncio.gather(*tasks)
        return order

    assert run(scenario()) == [1, 2, 1, 2, 1, 1]


def test_a_send_that_waits_past_its_allowance_is_not_started_and_holds_nothing():
    async def scenario():
        share = FairShare(total=1, per_tenant=1, per_host=1)
        await share.acquire(1, "h:80", None)
        gave_up = await share.acquire(1, "h:80", timeout=0.05)
        share.release(1, "h:80")
        return gave_up, share.in_flight, dict(share.waiting)

    assert run(scenario()) == (False, 0, {})


def test_a_cancelled_send_gives_back_a_slot_taken_for_it():
    async def scenario():
        share = FairShare(total=1, per_tenant=1, per_host=1)
        await share.acquire(1, "h:80", None)
        waiter = asyncio.ensure_future(share.acquire(1, "h:80", None))
        await settle()
        share.release(1, "h:80")  # the slot passes to the waiter, which is cancelled next
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return share.in_flight, dict(share.by_tenant)

    assert run(scenario()) == (0, {})


def test_a_slot_freed_right_after_a_waiting_send_is_cancelled_goes_to_the_next_one():
    """The cancelled send is still in line when the slot frees (its task has not run yet):
    the slot skips it, and nothing is counted for it."""
    async def scenario():
        share = FairShare(total=1, per_tenant=1, per_host=1)
        await share.acquire(1, "h:80", None)
        cancelled = asyncio.ensure_future(share.acquire(1, "h:80", None))
        second = asyncio.ensure_future(share.acquire(1, "h:80", None))
        await settle()
        cancelled.cancel()
        share.release(1, "h:80")
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        admitted = await asyncio.wait_for(second, 1)
        held = share.in_flight
        share.release(1, "h:80")
        return admitted, held, share.in_flight, dict(share.waiting)

    assert run(scenario()) == (True, 1, 0, {})


def test_a_send_that_gave_up_waiting_leaves_its_place_to_the_next():
    async def scenario():
        share = FairShare(total=1, per_tenant=1, per_host=1)
        await share.acquire(1, "h:80", None)
        impatient = asyncio.ensure_future(share.acquire(1, "h:80", timeout=0.02))
        patient = asyncio.ensure_future(share.acquire(1, "h:80", None))
        gave_up = await impatient
        share.release(1, "h:80")
        return gave_up, await asyncio.wait_for(patient, 1), share.in_flight

    assert run(scenario()) == (False, True, 1)


@pytest.mark.parametrize(("lease_in", "allowance"), [(200, 200 - 10 - 30), (5, 0)])
def test_a_send_may_wait_only_while_its_lease_covers_the_attempt(settings, lease_in, allowance):
    settings.QSTASH = {**settings.QSTASH, "LEASE_GRACE_SECONDS": 30}
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    message = SimpleNamespace(timeout_seconds=10, not_before=now,
                              lease_expires_at=now + timedelta(seconds=lease_in))
    assert wait_allowance(message, now) == allowance


def test_a_share_that_is_not_a_positive_integer_is_a_system_check_error(settings):
    from django_qstash.checks import check_server_settings

    settings.QSTASH = {**settings.QSTASH, "DELIVERY_CONCURRENCY_PER_TENANT": 0,
                       "DELIVERY_CONCURRENCY_PER_HOST": "10", "MAX_IN_FLIGHT_PER_TENANT": 2.5}
    named = [error.msg.split("'")[1] for error in check_server_settings()]
    assert named == ["DELIVERY_CONCURRENCY_PER_TENANT", "DELIVERY_CONCURRENCY_PER_HOST",
                     "MAX_IN_FLIGHT_PER_TENANT"]
    settings.QSTASH = {**settings.QSTASH, "DELIVERY_CONCURRENCY_PER_TENANT": None,
                       "DELIVERY_CONCURRENCY_PER_HOST": 10, "MAX_IN_FLIGHT_PER_TENANT": None}
    assert check_server_settings() == []
