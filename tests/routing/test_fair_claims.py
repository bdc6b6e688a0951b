"""Claims across tenants: one holding its share of MAX_IN_FLIGHT lets the others go first."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from django_qstash.core.clock import FrozenClock, SystemClock, set_clock
from django_qstash.engine.dispatcher import Dispatcher
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def frozen(qstash_runtime):
    clock = FrozenClock(datetime.now(timezone.utc))
    set_clock(clock)
    yield clock
    qstash_runtime.wait_idle(timeout=30)  # sends started by the ticks land before teardown
    set_clock(SystemClock())


@pytest.fixture
def limits(settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_IN_FLIGHT": 6, "MAX_IN_FLIGHT_PER_TENANT": 3,
                       "CLAIM_AHEAD_SECONDS": 0, "DISPATCH_BATCH_SIZE": 100}


def delayed(tenant, url: str, count: int, delay: str) -> list[str]:
    specs = [prepare(tenant, url, b"", [("Upstash-Delay", delay), ("Upstash-Retries", "0")])
             for _ in range(count)]
    return [published.message_id for published in publish_specs(tenant, specs)]


def active(ids: list[str]) -> int:
    return Message.objects.filter(id__in=ids, status=Message.Status.ACTIVE).count()


def test_a_tenant_holding_its_share_lets_another_tenants_due_message_be_claimed(
        limits, frozen, sink):
    flooder, other = create_tenant("flooder"), create_tenant("other")
    backlog = delayed(flooder, f"{sink.url}/sleep/2", 20, "5s")
    [waiting] = delayed(other, f"{sink.url}/other", 1, "6s")  # due after the whole backlog
    frozen.advance(10)
    dispatcher = Dispatcher(tick_hooks=())

    dispatcher.tick()
    # Alone with due work, a tenant takes all of MAX_IN_FLIGHT, past its share.
    assert active(backlog) == 6 and active([waiting]) == 0

    dispatcher.tick()
    # MAX_IN_FLIGHT is used up, by a tenant over its share: the other tenant goes anyway,
    # and the flooder gets nothing more.
    assert active([waiting]) == 1
    assert active(backlog) == 6
    assert Message.objects.filter(status=Message.Status.ACTIVE).count() == 7


def test_without_another_tenant_waiting_the_share_changes_nothing(limits, frozen, sink):
    tenant = create_tenant("alone")
    backlog = delayed(tenant, f"{sink.url}/sleep/2", 20, "5s")
    frozen.advance(10)
    dispatcher = Dispatcher(tick_hooks=())
    dispatcher.tick()
    dispatcher.tick()
    assert active(backlog) == 6  # MAX_IN_FLIGHT holds for it as before
