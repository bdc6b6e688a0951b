"""Claim due work from the database under leases and hand it to the transport."""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from datetime import datetime

from django.db import close_old_connections, transaction

from . import clock
from .conf import qstash_settings
from .events import event_for
from .models import Event, Message, Queue
from .publishing import lease_until
from .transport import WorkItem, submit_or_leave_to_lease

logger = logging.getLogger("django_qstash.dispatcher")
Status = Message.Status
# Only what claiming and the ACTIVE event need; bodies stay in the database.
CLAIM_FIELDS = ("id", "tenant_id", "url", "topic_name", "endpoint_name", "queue_name",
                "schedule_id", "flow_control_key", "labels", "label_index", "timeout_seconds", "claim_token",
                "created_at")


def _locked(queryset):
    # SKIP LOCKED lets several dispatchers claim side by side without waiting on each other.
    return queryset.select_for_update(skip_locked=True, of=("self",))


def _claim(messages: list[Message], now: datetime) -> list[WorkItem]:
    """Mark rows ACTIVE with a fresh claim token and lease; caller holds their row locks."""
    by_lease: dict[tuple[datetime, int], list[str]] = defaultdict(list)
    events = []
    for message in messages:
        message.claim_token += 1
        by_lease[(lease_until(message, now), message.claim_token)].append(message.id)
        events.append(event_for(message, Event.State.ACTIVE, now))
    for (lease, token), message_ids in by_lease.items():
        Message.objects.filter(id__in=message_ids).update(
            status=Status.ACTIVE, lease_expires_at=lease, claim_token=token)
    Event.objects.bulk_create(events)
    return [(m.id, m.claim_token) for m in messages]


def claim_unqueued(now: datetime, limit: int) -> list[WorkItem]:
    with transaction.atomic():
        rows = list(_locked(Message.objects.due(now).filter(queue_name="")
                            .order_by("not_before").only(*CLAIM_FIELDS))[:limit])
        return _claim(rows, now)


def reclaim_expired(now: datetime, limit: int) -> list[WorkItem]:
    """At-least-once: a lease that ran out means its worker died; hand the message out again."""
    with transaction.atomic():
        rows = list(_locked(Message.objects.lease_expired(now).order_by("lease_expires_at")
                            .only(*CLAIM_FIELDS))[:limit])
        if rows:
            logger.warning("reclaiming %d messages whose lease expired", len(rows))
        return _claim(rows, now)


def claim_queued(now: datetime, limit: int) -> list[WorkItem]:
    """Per queue: the oldest ``parallelism`` undelivered messages may be in flight, in order."""
    claimed: list[WorkItem] = []
    waiting = (Message.objects.due(now).exclude(queue_name="")
               .order_by().values_list("tenant_id", "queue_name").distinct()[:limit])
    for tenant_id, queue_name in list(waiting):
        with transaction.atomic():
            # Locking the queue row serialises dispatchers per queue; others skip it this tick.
            queue = _locked(Queue.objects.filter(tenant_id=tenant_id, name=queue_name)).first()
            if queue is None or queue.paused:
                continue
            window = list(Message.objects.undelivered()
                          .filter(tenant_id=tenant_id, queue_name=queue_name)
                          .order_by("created_at", "id").only(*CLAIM_FIELDS, "status",
                                                             "not_before")[: queue.parallelism])
            ready = [m for m in window if m.status == Status.PENDING and m.not_before <= now]
            claimed += _claim(ready, now)
    return claimed


class Dispatcher:
    """One loop: claim, submit, sleep a little when idle. Run several; they share the work."""

    def __init__(self, *, batch_size: int | None = None, interval: float | None = None,
                 tick_hooks: tuple | None = None) -> None:
        self.batch_size = batch_size or qstash_settings.DISPATCH_BATCH_SIZE
        self.interval = interval if interval is not None else qstash_settings.DISPATCH_INTERVAL_SECONDS
        if tick_hooks is None:
            from .scheduler import fire_due  # imported here: scheduler imports publishing too

            tick_hooks = (fire_due,)
        self.tick_hooks = tick_hooks
        self.stop_event = threading.Event()
        self.thread: threading.Thread | None = None

    def tick(self) -> int:
        now = clock.now()
        items = reclaim_expired(now, self.batch_size)
        items += claim_unqueued(now, self.batch_size)
        items += claim_queued(now, self.batch_size)
        submit_or_leave_to_lease(items)
        for hook in self.tick_hooks:
            hook(now)
        return len(items)

    def run(self) -> None:
        logger.info("dispatcher started")
        while not self.stop_event.is_set():
            try:
                busy = self.tick() >= self.batch_size
            except Exception:
                logger.exception("dispatcher tick failed; retrying")
                close_old_connections()
                busy = False
            if not busy:
                self.stop_event.wait(self.interval)
        close_old_connections()
        logger.info("dispatcher stopped")

    def start_thread(self) -> threading.Thread:
        self.thread = threading.Thread(target=self.run, name="qstash-dispatcher", daemon=True)
        self.thread.start()
        return self.thread

    def stop(self, timeout: float = 10) -> None:
        self.stop_event.set()
        if self.thread is not None and self.thread is not threading.current_thread():
            self.thread.join(timeout)
