"""One place for state-change side channels: structured log lines and Prometheus counters."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.db import transaction

if TYPE_CHECKING:
    from django_qstash.core.attempts import DeliveryOutcome
    from django_qstash.models import Event, Message

logger = logging.getLogger("django_qstash.engine.event_log")
operator_logger = logging.getLogger("django_qstash.operator")

# Event state -> the counter it advances (others are only logged).
COUNTED_STATES = {"CREATED": "published", "DELIVERED": "delivered", "FAILED": "failed",
                  "RETRY": "retried", "CANCELED": "canceled"}
_tenant_names: dict[int, str] = {}


def format_fields(**fields: Any) -> str:
    """``key=value`` pairs, values quoted when they hold spaces or quotes (logfmt)."""
    parts = []
    for key, value in fields.items():
        if value is None or value == "":
            continue
        text = str(value)
        if any(c in text for c in ' "=\n\t'):
            text = '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


def tenant_name(tenant_id: int) -> str:
    # Tenants are few and never renamed by the engine: one query per process per tenant.
    if tenant_id not in _tenant_names:
        from django_qstash.models import Tenant

        _tenant_names.update(Tenant.objects.filter(pk=tenant_id).values_list("pk", "name"))
    return _tenant_names.get(tenant_id, str(tenant_id))


def forget_tenant_names(**kwargs: Any) -> None:
    """A tenant saved or deleted (renamed in the admin, an id reused): drop the cached names."""
    _tenant_names.clear()


def record(events: Iterable[Event],
           attempts: Iterable[tuple[Message, DeliveryOutcome, datetime]] = ()) -> None:
    """Call where state-change Event rows are written; acts once the transaction commits,
    so a rolled-back change is neither logged nor counted."""
    events, attempts = list(events), list(attempts)
    if events or attempts:
        transaction.on_commit(lambda: _emit(events, attempts))


def _emit(events: list[Event], attempts: list) -> None:
    try:
        from django_qstash.engine import metrics

        for event in events:
            tenant = tenant_name(event.tenant_id)
            if event.state in COUNTED_STATES:
                metrics.count_state(COUNTED_STATES[event.state], tenant)
            if logger.isEnabledFor(logging.INFO):
                logger.info(format_fields(
                    event="state_change", state=event.state, message_id=event.message_id,
                    tenant=tenant, url=event.url, queue=event.queue_name,
                    url_group=event.topic_name, schedule=event.schedule_id,
                    flow_control_key=event.flow_control_key, status=event.response_status,
                    next_delivery=event.next_delivery_time and event.next_delivery_time.isoformat(),
                    error=event.error))
        for message, outcome, started_at in attempts:
            metrics.observe_attempt(message, outcome, started_at, tenant_name(message.tenant_id))
    except Exception:  # observing must never break delivery
        logger.exception("could not record metrics for %d events", len(events))


def operator_action(user: Any, action: str, **fields: Any) -> None:
    """Who did what from the admin or a management command."""
    who = getattr(user, "get_username", lambda: str(user))()
    operator_logger.info(format_fields(event="operator_action", action=action, user=who,
                                       **fields))
