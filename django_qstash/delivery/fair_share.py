"""Per-tenant and per-host shares of a process's delivery slots: no destination holds them all."""

from __future__ import annotations

import asyncio
from collections import Counter, OrderedDict, deque
from datetime import datetime

from django_qstash.conf import qstash_settings
from django_qstash.core.destination_url import InvalidDestination, parsed_destination
from django_qstash.core.leases import lease_until

Key = tuple[int, str]  # (tenant id, destination host)


def host_of(url: str) -> str:
    """Host and port: what a slow server holds connections on. Two servers on one address
    (different ports) are different destinations. Read by the parser the send dials with
    (cached), so the share is keyed by the host actually connected to."""
    try:
        parsed = parsed_destination(url)
    except InvalidDestination:
        return ""  # refused when it is sent: it takes no share for long
    return f"{(parsed.raw_host or '').lower()}:{parsed.port}"


def share_cap(value: int | None, total: int) -> int:
    """A configured share, or half the slots by default; never more than all of them."""
    if value is None:
        value = total // 2
    return min(max(1, int(value)), total)


def wait_allowance(message, now: datetime) -> float:
    """How long a send may wait for its share: as long as its lease still covers the whole
    attempt after the wait, so that it is never sent while a reclaimed copy could be."""
    timeout = message.timeout_seconds or qstash_settings.DEFAULT_TIMEOUT_SECONDS
    # The worker extends a lease that would lapse before an attempt starting now can end.
    lease = max(message.lease_expires_at or now, lease_until(message, now, started=True))
    return (lease - now).total_seconds() - timeout - qstash_settings.LEASE_GRACE_SECONDS


class FairShare:
    """Counts the sends in flight per tenant and per host, and makes a send wait while its
    tenant or its host holds its share (or every slot is taken). Waiting sends take turns:
    each freed slot goes to the next waiting (tenant, host) pair that may have it, in
    rotation, so a tenant with thousands waiting alternates with one that has a single send.
    Used only on the sender's event loop: no locks."""

    def __init__(self, total: int, per_tenant: int, per_host: int) -> None:
        self.total, self.per_tenant, self.per_host = total, per_tenant, per_host
        self.in_flight = 0
        self.by_tenant: Counter[int] = Counter()
        self.by_host: Counter[str] = Counter()
        self.waiting: OrderedDict[Key, deque[asyncio.Future]] = OrderedDict()

    @classmethod
    def from_settings(cls) -> FairShare:
        total = max(1, int(qstash_settings.DELIVERY_CONCURRENCY))
        return cls(total, share_cap(qstash_settings.DELIVERY_CONCURRENCY_PER_TENANT, total),
                   share_cap(qstash_settings.DELIVERY_CONCURRENCY_PER_HOST, total))

    def fits(self, key: Key) -> bool:
        tenant, host = key
        return (self.in_flight < self.total and self.by_tenant[tenant] < self.per_tenant
                and self.by_host[host] < self.per_host)

    def would_wait(self, tenant: int, host: str) -> bool:
        """Whether ``acquire`` would wait now (asked right before it, on the same loop)."""
        key = (tenant, host)
        return key in self.waiting or not self.fits(key)

    def _take(self, key: Key) -> None:
        tenant, host = key
        self.in_flight += 1
        self.by_tenant[tenant] += 1
        self.by_host[host] += 1

    async def acquire(self, tenant: int, host: str, timeout: float | None) -> bool:
        """True once the send may start (release it afterwards); False when ``timeout``
        seconds passed first."""
        key = (tenant, host)
        # Behind waiters of the same pair: one tenant's sends to one host keep their order.
        if key not in self.waiting and self.fits(key):
            self._take(key)
            return True
        if timeout is not None and timeout <= 0:
            return False
        loop = asyncio.get_running_loop()
        # True once a slot is taken for it (_admit), False when the timer runs out first
        # (_expire). A timer and the future alone: asyncio.wait() built a set, a waiter and
        # callbacks for each of a burst's thousands of waiting sends.
        admitted = loop.create_future()
        self.waiting.setdefault(key, deque()).append(admitted)
        timer = None if timeout is None else loop.call_later(timeout, self._expire, key,
                                                             admitted)
        try:
            return await admitted
        except BaseException:  # cancelled: give back a slot taken on its behalf meanwhile
            if admitted.done() and not admitted.cancelled() and admitted.result():
                self.release(tenant, host)
            else:
                self._leave(key, admitted)
            raise
        finally:
            if timer is not None:
                timer.cancel()

    def release(self, tenant: int, host: str) -> None:
        self.in_flight -= 1
        self.by_tenant[tenant] -= 1
        self.by_host[host] -= 1
        if not self.by_tenant[tenant]:
            del self.by_tenant[tenant]
        if not self.by_host[host]:
            del self.by_host[host]
        self._admit()

    def _admit(self) -> None:
        for key in list(self.waiting):
            if self.in_flight >= self.total:
                return
            if not self.fits(key):
                continue
            line = self.waiting[key]
            # A send cancelled while it waits has its future cancelled at once, and leaves
            # the line only when its task next runs: no slot for it.
            while line and line[0].done():
                line.popleft()
            if not line:
                del self.waiting[key]
                continue
            line.popleft().set_result(True)
            self._take(key)
            if line:
                self.waiting.move_to_end(key)  # its next send waits for its next turn
            else:
                del self.waiting[key]

    def _expire(self, key: Key, future: asyncio.Future) -> None:
        if not future.done():
            self._leave(key, future, result=False)

    def _leave(self, key: Key, future: asyncio.Future, result: bool | None = None) -> None:
        """Out of the line: cancelled, or answered ``result``."""
        if result is None:
            future.cancel()
        else:
            future.set_result(result)
        line = self.waiting.get(key)
        if line is None:
            return
        try:
            line.remove(future)
        except ValueError:
            pass
        if not line:
            del self.waiting[key]
