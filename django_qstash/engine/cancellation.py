"""Cancel messages: pending ones at once, in-flight ones after their current attempt."""

from __future__ import annotations

from django.db import transaction
from django.db.models import QuerySet

from django_qstash.core import clock
from django_qstash.db.bulk_insert import insert_rows
from django_qstash.engine import observability, transitions
from django_qstash.engine.event_log import event_for
from django_qstash.models import Event, Message


def cancel(messages: QuerySet) -> int:
    """Cancel every still-undelivered message of ``messages``; returns how many."""
    now = clock.now()
    count = 0
    with transaction.atomic():
        rows = list(messages.cancellable().select_for_update(of=("self",)))
        events = []
        pending = []
        active = []
        for message in rows:
            events.append(event_for(message, Event.State.CANCEL_REQUESTED, now))
            if message.status == Message.Status.PENDING:
                events.append(event_for(message, Event.State.CANCELED, now))
                pending.append(message.id)
            else:  # in flight: the worker finishes this attempt, then stops
                active.append(message.id)
            count += 1
        transitions.cancel_waiting(pending, now)
        transitions.request_cancel(active)
        insert_rows(Event, events)
        observability.record(events)
    return count
