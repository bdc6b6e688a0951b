"""Flow control: per-key parallelism and rate; a rate slot is taken right before each send."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime, timedelta

from django.db import DatabaseError, transaction

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.core.leases import WorkItem
from django_qstash.db.connections import drop_stale_connections
from django_qstash.engine import transitions
from django_qstash.engine.claiming import CLAIM_FIELDS, locked
from django_qstash.models import FlowControlKey, Message

logger = logging.getLogger("django_qstash.engine.flow_control")
# A send is counted a little longer than the period: a request reaches the destination some
# milliseconds after its slot is taken (3-30 ms measured on a busy two-core host), and that
# jitter must not squeeze rate+1 arrivals into one period. Claims use the same guard, so they
# never outpace sends and pile up in workers.
RATE_GUARD_SECONDS = 0.1
# A slot further off than this is not waited for in a worker, whose process it would block:
# the message goes back to the waitlist until then.
MAX_SLOT_WAIT_SECONDS = 10.0
# Never 0 when no slot is free: 0 means "taken", and a rounding error must not spin.
MIN_WAIT_SECONDS = 0.001


def configure_keys(messages: list[Message]) -> None:
    """The newest message's config becomes its key's config, except for pinned parts."""
    newest: dict[tuple[int, str], Message] = {}
    for message in messages:
        # Callbacks too: Upstash-Callback-Flow-Control-* give a callback its own key.
        if message.flow_control_key:
            newest[(message.tenant_id, message.flow_control_key)] = message
    for (tenant_id, key), message in newest.items():
        config = {"parallelism_max": message.flow_control_parallelism,
                  "rate_max": message.flow_control_rate,
                  "rate_period": message.flow_control_period or 1}
        row, created = FlowControlKey.objects.get_or_create(tenant_id=tenant_id, key=key,
                                                            defaults=config)
        if created:
            continue
        if row.pinned_parallelism:
            config.pop("parallelism_max")
        if row.pinned_rate:
            config.pop("rate_max")
            config.pop("rate_period")
        if any(getattr(row, name) != value for name, value in config.items()):
            FlowControlKey.objects.filter(pk=row.pk).update(**config)


def fresh_rate_window(row: FlowControlKey) -> None:
    """Pin, resetRate and new limits: the count restarts at 0 now, for claims and sends alike.

    What the old window already let through stays in it: the messages claimed (sent or
    not), and those due with a free place in it, which only wait for the next dispatcher
    tick (QStash hands them out at publish). Their sends, even those still to come, are
    neither counted in nor held back by the new window. The caller holds the key row's lock,
    as claims do, so no claim falls between this look and the save."""
    admitted: list[list] = []
    if row.pk is not None:
        now = clock.now()
        admitted = [list(item) for item in Message.objects.filter(
            tenant_id=row.tenant_id, flow_control_key=row.key,
            status=Message.Status.ACTIVE).values_list("id", "claim_token")]
        places = claim_places(row, now.timestamp(), row.rate_max or 0)[0]
        if row.rate_max and not row.paused and places > 0:
            # Their claim, under this lock later, takes the next claim token.
            admitted += [[message_id, token + 1] for message_id, token in
                         waitlist_head(row, now).values_list("id", "claim_token")[:places]]
    row.recent_starts = []
    row.recent_claims = []
    row.claimed_before_reset = admitted


def reset_rate_windows(keys) -> int:
    """Restart the rate count of every key of ``keys`` (a queryset); returns how many."""
    with transaction.atomic():
        rows = list(keys.select_for_update())
        for row in rows:
            fresh_rate_window(row)
            row.save(update_fields=["recent_starts", "recent_claims", "claimed_before_reset"])
    return len(rows)


def in_window(log: list[float], now: float, period: float) -> list[float]:
    horizon = now - period - RATE_GUARD_SECONDS
    return [t for t in log if t > horizon]


def slot_wait(log: list[float], now: float, rate: int, period: float) -> tuple[list[float], float]:
    """The log's entries still in the window, and the seconds until a slot is free (0: now)."""
    kept = in_window(log, now, period)
    if len(kept) < rate:
        return kept, 0.0
    # After a rate decrease the log may hold more than ``rate``: enough must leave, not one.
    leaving = sorted(kept)[len(kept) - rate]
    return kept, max(leaving + period + RATE_GUARD_SECONDS - now, MIN_WAIT_SECONDS)


def claim_places(row: FlowControlKey, claimed_at: float, limit: int) -> tuple[int, list[float]]:
    """How many of the key's waiting messages its parallelism and claim log let through now
    (at most ``limit``), and the claim log's entries still in the window."""
    places = limit
    if row.parallelism_max:
        active = Message.objects.filter(tenant_id=row.tenant_id, flow_control_key=row.key,
                                        status=Message.Status.ACTIVE).count()
        places = min(places, row.parallelism_max - active)
    claims = in_window(row.recent_claims, claimed_at, row.rate_period)
    if row.rate_max:
        places = min(places, row.rate_max - len(claims))
    return places, claims


def waitlist_head(row: FlowControlKey, now: datetime):
    """The key's due messages in the order they are claimed (queued ones wait in their queue)."""
    return (Message.objects.due(now).filter(tenant_id=row.tenant_id, flow_control_key=row.key,
                                            queue_name="").order_by("not_before", "created_at"))


def claim_flow_controlled(now: datetime, limit: int) -> list[WorkItem]:
    """Per key: claim only as many as its parallelism and rate allow; the rest wait in the DB.

    The rate is checked against the claim log, a coarse filter that keeps workers from being
    flooded; the exact limit is the send log, kept by workers (take_send_slot)."""
    claimed: list[WorkItem] = []
    waiting = (Message.objects.due(now).filter(queue_name="").exclude(flow_control_key="")
               .order_by().values_list("tenant_id", "flow_control_key").distinct()[:limit])
    for tenant_id, key in list(waiting):
        with transaction.atomic():
            # The key row's lock serialises dispatchers per key; others skip it this tick.
            row = locked(FlowControlKey.objects.filter(tenant_id=tenant_id, key=key)).first()
            if row is None or row.paused:
                continue
            # The tick's ``now`` may be stale by the time the lock is ours; a claim must be
            # logged at the moment it really happens, or a window would seem older.
            claimed_at = clock.now().timestamp()
            places, claims = claim_places(row, claimed_at, limit)
            if places <= 0:
                continue
            rows = list(locked(waitlist_head(row, now).only(*CLAIM_FIELDS))[:places])
            claimed += transitions.claim(rows, now)
            # Those the last reset left to the window before it are not logged in this one.
            counted = [m for m in rows if [m.id, m.claim_token] not in row.claimed_before_reset]
            if row.rate_max and counted:
                row.recent_claims = claims + [claimed_at] * len(counted)
                row.save(update_fields=["recent_claims"])
    return claimed


def take_send_slot(message: Message, *, sleep: Callable[[float], None] = time.sleep) -> bool:
    """Wait for a free rate slot of the message's key and log the send; False: do not send.

    Called on the HTTP thread right before the request, so the log holds real send times and
    arrivals keep to the rate however many workers send. False when the claim was lost, a
    cancel was requested, the message went back to the waitlist (its slot too far off, or
    the key paused), or the database failed; its lease covers the last one.
    """
    if message.queue_name:
        return True  # queued messages are ordered by their queue, which ignores the rate
    drop_stale_connections()  # a long-lived thread: drop a connection that expired or broke
    try:
        # Waking at least this often renews the lease before the grace it leaves runs out.
        longest_sleep = max(qstash_settings.LEASE_GRACE_SECONDS / 2, 0.1)
        while (wait := _look(message)) is not None:
            if wait == 0:
                return True
            sleep(min(wait, longest_sleep))
        return False
    except DatabaseError:
        logger.exception("could not take a rate slot for %s; its lease will bring it back",
                         message.id)
        return False
    finally:
        drop_stale_connections()


def _look(message: Message) -> float | None:
    """One look under the key's lock: 0 when a slot was taken, else seconds to wait; None when
    the message is not to be sent."""
    with transaction.atomic():
        row = (FlowControlKey.objects.select_for_update()
               .filter(tenant_id=message.tenant_id, key=message.flow_control_key)
               .only("id", "paused", "rate_max", "rate_period", "recent_starts",
                     "claimed_before_reset").first())
        now = clock.now()
        # Every look extends the lease: waiting is not taken for a crash, the lease runs from
        # the real send, and a claim lost or a cancel requested meanwhile is noticed before
        # anything is sent.
        if not transitions.renew_for_send(message, now):
            return None
        if row is not None and row.paused:
            # Paused while this waited: back to the waitlist, unattempted, retries untouched.
            transitions.requeue([message], now)
            return None
        if row is None or not row.rate_max:
            return 0.0
        if (claim := [message.id, message.claim_token]) in row.claimed_before_reset:
            # Claimed before the rate was reset: its send belongs to the window that was.
            row.claimed_before_reset.remove(claim)
            row.save(update_fields=["claimed_before_reset"])
            return 0.0
        kept, wait = slot_wait(row.recent_starts, now.timestamp(), row.rate_max, row.rate_period)
        if wait > MAX_SLOT_WAIT_SECONDS:
            # No attempt was made: back to PENDING, due when the slot frees, retries untouched.
            transitions.requeue([message], now, not_before=now + timedelta(seconds=wait))
            return None
        if wait:
            return wait
        row.recent_starts = kept + [now.timestamp()]
        row.save(update_fields=["recent_starts"])
        return 0.0


def key_state(row: FlowControlKey, now: datetime) -> dict:
    """The FlowControlKey JSON of the API; the rate count is of real sends."""
    messages = Message.objects.filter(tenant_id=row.tenant_id, flow_control_key=row.key)
    starts = in_window(row.recent_starts, now.timestamp(), row.rate_period)
    return {
        "flowControlKey": row.key,
        "waitListSize": messages.filter(status=Message.Status.PENDING).count(),
        "parallelismMax": row.parallelism_max or 0,
        "parallelismCount": messages.filter(status=Message.Status.ACTIVE).count(),
        "rateMax": row.rate_max or 0,
        "rateCount": len(starts),
        "ratePeriod": row.rate_period,
        "ratePeriodStart": int(min(starts)) if starts else int(now.timestamp()),
        "isPaused": row.paused,
        "isPinnedParallelism": row.pinned_parallelism,
        "isPinnedRate": row.pinned_rate,
    }
