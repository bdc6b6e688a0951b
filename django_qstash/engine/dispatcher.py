"""Claim due work from the database under leases and hand it to the transport."""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Count, Q

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.core.leases import WorkItem
from django_qstash.db.connections import drop_stale_connections
from django_qstash.engine.claiming import CLAIM_FIELDS, locked
from django_qstash.engine.dispatcher_presence import dispatcher_started, dispatcher_stopped
from django_qstash.engine.flow_control import claim_flow_controlled
from django_qstash.engine.handover import submit_or_leave_to_lease
from django_qstash.engine.transitions import claim
from django_qstash.models import Message, Queue

logger = logging.getLogger("django_qstash.engine.dispatcher")
Status = Message.Status


def claim_unqueued(now: datetime, limit: int, *, skip_tenants=()) -> list[WorkItem]:
    """Messages free of queues and flow control, including those due within the next
    CLAIM_AHEAD_SECONDS: a worker holds those and sends each exactly when it is due, so a
    burst due in the same second goes out at once instead of waiting to be claimed."""
    horizon = now + timedelta(seconds=qstash_settings.CLAIM_AHEAD_SECONDS)
    with transaction.atomic():
        # Callbacks of queued messages carry their queue's name but never wait in it.
        unqueued = Q(queue_name="") | ~Q(kind=Message.Kind.MESSAGE)
        due = Message.objects.due(horizon).filter(unqueued, flow_control_key="")
        if skip_tenants:
            due = due.exclude(tenant_id__in=skip_tenants)
        rows = list(locked(due.order_by("not_before").only(*CLAIM_FIELDS))[:limit])
        return claim(rows, now)


def tenants_over_share(share: int) -> list[int]:
    """Tenants holding at least ``share`` claimed and unfinished messages."""
    return list(Message.objects.filter(status=Status.ACTIVE).order_by()
                .values_list("tenant_id").annotate(held=Count("id"))
                .filter(held__gte=share).values_list("tenant_id", flat=True))


def tenant_share() -> int:
    """How much of MAX_IN_FLIGHT a tenant may hold before others' due work goes first."""
    share = qstash_settings.MAX_IN_FLIGHT_PER_TENANT
    return max(1, qstash_settings.MAX_IN_FLIGHT // 2 if share is None else share)


def reclaim_expired(now: datetime, limit: int) -> list[WorkItem]:
    """At-least-once: a lease that ran out means its worker died; hand the message out again."""
    with transaction.atomic():
        rows = list(locked(Message.objects.lease_expired(now).order_by("lease_expires_at")
                            .only(*CLAIM_FIELDS))[:limit])
        if rows:
            logger.warning("reclaiming %d messages whose lease expired", len(rows))
        return claim(rows, now)


def claim_queued(now: datetime, limit: int) -> list[WorkItem]:
    """Per queue: the oldest ``parallelism`` undelivered messages may be in flight, in order.

    An undelivered callback of a queued message takes one of those places, so with
    parallelism 1 the next message waits for the head's callbacks too.
    """
    claimed: list[WorkItem] = []
    waiting = (Message.objects.due(now).filter(kind=Message.Kind.MESSAGE).exclude(queue_name="")
               .order_by().values_list("tenant_id", "queue_name").distinct()[:limit])
    for tenant_id, queue_name in list(waiting):
        with transaction.atomic():
            # Locking the queue row serialises dispatchers per queue; others skip it this tick.
            queue = locked(Queue.objects.filter(tenant_id=tenant_id, name=queue_name)).first()
            if queue is None or queue.paused:
                continue
            in_queue = Message.objects.undelivered().filter(tenant_id=tenant_id,
                                                             queue_name=queue_name)
            open_callbacks = in_queue.exclude(kind=Message.Kind.MESSAGE).count()
            places = queue.parallelism - open_callbacks
            if places <= 0:
                continue
            window = list(in_queue.filter(kind=Message.Kind.MESSAGE).order_by("created_at", "id")
                          .only(*CLAIM_FIELDS, "status", "not_before")[:places])
            ready = [m for m in window if m.status == Status.PENDING and m.not_before <= now]
            claimed += claim(ready, now)
    return claimed


class Dispatcher:
    """One loop: claim, submit, sleep a little when idle. Run several; they share the work."""

    def __init__(self, *, batch_size: int | None = None, interval: float | None = None,
                 tick_hooks: tuple | None = None, extra_tick_hooks: tuple = ()) -> None:
        self.batch_size = batch_size or qstash_settings.DISPATCH_BATCH_SIZE
        self.interval = interval if interval is not None else qstash_settings.DISPATCH_INTERVAL_SECONDS
        if tick_hooks is None:
            from django_qstash.engine.rollup_fold import fold_due
            from django_qstash.engine.scheduler import (
                fire_due,  # imported here: scheduler imports publishing too
            )
            from django_qstash.engine.workflow.waits import ExpireWaiters

            # The dashboard's rollups are folded here, never where messages are published or
            # recorded: several dispatchers take turns (a row lock), each every few seconds.
            tick_hooks = (fire_due, fold_due, ExpireWaiters())
        self.tick_hooks = (*tick_hooks, *extra_tick_hooks)
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def tick(self) -> int:
        now = clock.now()
        horizon = now + timedelta(seconds=qstash_settings.CLAIM_AHEAD_SECONDS)
        # Nothing due and no lease lapsed (most ticks): skip the claim queries, each a
        # round trip and most a transaction of their own.
        items = self._claim(now) if Message.objects.claimable_by(horizon, now).exists() else []
        for hook in self.tick_hooks:
            hook(now)
        return len(items)

    def _claim(self, now: datetime) -> list[WorkItem]:
        # Back-pressure: claimed work waits in the broker; keep that backlog well inside the
        # pickup allowance of its leases, and leave the rest in the database.
        in_flight = Message.objects.filter(status=Message.Status.ACTIVE).count()
        room = qstash_settings.MAX_IN_FLIGHT - in_flight
        items: list[WorkItem] = []
        # Tenants holding their share wait while the others' due work is claimed, which has
        # room of its own (up to MAX_IN_FLIGHT more): one tenant's backlog, or its slow
        # destination, cannot keep everyone else's messages waiting. Counted per tenant
        # only when the total says one may be over.
        share = tenant_share()
        others_room = min(self.batch_size, room + qstash_settings.MAX_IN_FLIGHT)
        if in_flight >= share and others_room > 0 and (over := tenants_over_share(share)):
            items += claim_unqueued(now, others_room, skip_tenants=over)
        for step in (reclaim_expired, claim_unqueued, claim_queued, claim_flow_controlled):
            if room - len(items) <= 0:
                break
            items += step(now, min(self.batch_size, room - len(items)))
        submit_or_leave_to_lease(items)
        return items

    def run(self) -> None:
        logger.info("dispatcher started")
        dispatcher_started()
        try:
            self._loop()
        finally:
            dispatcher_stopped()
        drop_stale_connections()
        logger.info("dispatcher stopped")

    def _loop(self) -> None:
        while not self.stop_event.is_set():
            try:
                busy = self.tick() >= self.batch_size
            except Exception:
                logger.exception("dispatcher tick failed; retrying")
                drop_stale_connections()
                busy = False
            if not busy:
                self.stop_event.wait(self.interval)

    def start_thread(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name="qstash-dispatcher", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout: float = 10) -> None:
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)
