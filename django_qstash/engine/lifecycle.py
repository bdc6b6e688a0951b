"""Record an attempt's outcome in one transaction: attempt row, transition, events, callbacks."""

from __future__ import annotations

import logging
from contextlib import nullcontext
from datetime import datetime

from django.db import InterfaceError, OperationalError, transaction

from django_qstash.conf import qstash_settings
from django_qstash.core import clock, ids
from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.db.bulk_insert import insert_rows
from django_qstash.db.drafts import AttemptDraft
from django_qstash.engine import observability, transitions
from django_qstash.engine.callbacks import callback_body, callback_message
from django_qstash.engine.dispatcher_presence import warn_if_nothing_dispatches
from django_qstash.engine.event_log import event_for
from django_qstash.engine.outcomes import decide
from django_qstash.engine.publishing import save_messages
from django_qstash.engine.workflow.delivered import keep_sent_body
from django_qstash.models import DeliveryAttempt, DlqEntry, Event, Message

logger = logging.getLogger("django_qstash.delivery.worker")
# The database is unreachable: recording the rest one by one would fail the same way.
CONNECTION_ERRORS = (OperationalError, InterfaceError)
Status = Message.Status
State = Event.State
# Canonical, as response header names are stored.
WORKFLOW_SDK_VERSION = "Upstash-Workflow-Sdk-Version"


def record_outcome(message_id: str, claim_token: int, outcome: DeliveryOutcome,
                   started_at: datetime) -> Message | None:
    """Apply ``outcome``; returns None when the claim was lost (another worker took over)."""
    now = clock.now()
    with transaction.atomic():
        message = transitions.lock_owned(message_id, claim_token)
        if message is None:
            return None
        response_body = outcome.body[: qstash_settings.MAX_RESPONSE_BODY_BYTES]
        DeliveryAttempt.objects.create(
            message=message, retried=message.retried, started_at=started_at,
            duration_ms=outcome.duration_ms, response_status=outcome.status,
            response_headers=outcome.headers, response_body=response_body, error=outcome.error)
        response = dict(response_status=outcome.status, response_headers=outcome.headers,
                        response_body=response_body)
        attempt_retried = message.retried
        decision = decide(message, outcome, now)
        dlq_id = None
        if decision.retry_at is not None:
            transitions.retry_later(message, decision.retry_at)
            warn_if_nothing_dispatches(message.id, "is to be retried")
        else:
            transitions.finish(message, decision.status, now)
        if decision.to_dlq:
            dlq_id = _dead_letter(message, outcome, response_body, now)
            if message.workflow_run_id:
                from django_qstash.engine.workflow.steps import mark_failed  # steps only

                keep_sent_body(message)
                if mark_failed(message.tenant_id, message.workflow_run_id, dlq_id, now):
                    _invoked_run_ended(message)
        elif message.workflow_run_id and outcome.delivered:
            _check_workflow_endpoint(message, outcome, now)
        details = {State.DELIVERED: response, State.ERROR: dict(error=outcome.error, **response),
                   State.FAILED: dict(error=outcome.error, **response),
                   State.RETRY: dict(next_delivery_time=message.not_before)}
        events = [event_for(message, state, now, **details.get(state, {}))
                  for state in decision.events]
        # Built once the row is what it became: a retried message's callback carries the
        # next attempt's time.
        follow_ups = [callback_message(message, kind, callback_body(
            message, outcome, attempt_retried, dlq_id if kind == "failure_callback" else None),
            now) for kind in decision.callbacks]
        insert_rows(Event, events)
        observability.record(events, [(message, outcome, started_at)])
        save_messages(follow_ups, now)
    return message


def record_outcomes(results: list[tuple[Message, DeliveryOutcome, datetime]]) -> None:
    """Record many outcomes: plain successes in one transaction, everything else one by one.

    An outcome the database refuses (a constraint, a value the driver cannot encode, ...)
    is logged and left to its lease; the others are still recorded, or they too would wait
    for their leases and be delivered twice. A lost connection fails them all at once.
    """
    simple = [(m, o, t) for m, o, t in results if o.delivered and not m.callback]
    for message, outcome, started_at in results:
        if not (outcome.delivered and not message.callback):
            _isolated(message, record_outcome, message.id, message.claim_token, outcome,
                      started_at)
    if len(simple) == 1:
        _isolated(simple[0][0], _record_deliveries, simple)
    elif simple:
        try:
            _record_deliveries(simple)  # the common case: one transaction (savepoint if nested)
        except CONNECTION_ERRORS:
            raise
        except Exception:
            logger.exception("recording %d deliveries together failed; recording them one "
                             "by one", len(simple))
            for result in simple:
                _isolated(result[0], _record_deliveries, [result])


def _isolated(message: Message, record, *args) -> None:
    """``record(*args)``, its own transaction (savepoint); a refusal is logged, not raised."""
    try:
        record(*args)
    except CONNECTION_ERRORS:
        raise
    except Exception:
        logger.exception("recording the outcome of %s failed; its lease will hand it out again",
                         message.id)


def _record_deliveries(results: list[tuple[Message, DeliveryOutcome, datetime]]) -> None:
    now = clock.now()
    rows = None
    if not any(m.workflow_run_id for m, _, _ in results):
        # Built once: the general path below takes them when one statement cannot.
        rows = _delivery_rows(results, now)
        if _record_in_one_statement(results, rows, now):
            return
    with transaction.atomic():
        owned = transitions.deliver_owned([m for m, _, _ in results], now)
        kept = [index for index, (m, _, _) in enumerate(results) if m.id in owned]
        if not kept:
            return
        results = [results[index] for index in kept]
        if rows is not None:
            attempts, events = ([row[index] for index in kept] for row in rows)
        else:  # workflow messages: their endpoint is checked before the rows
            for message, outcome, _ in results:
                if message.workflow_run_id:
                    _check_workflow_endpoint(message, outcome, now)
            attempts, events = _delivery_rows(results, now)
        insert_rows(DeliveryAttempt, attempts)
        insert_rows(Event, events)
        observability.record(events, results)


def _record_in_one_statement(results: list, rows: tuple[list, list], now: datetime) -> bool:
    """The common case on PostgreSQL: status, attempt rows and events in one statement (its
    own commit outside a transaction, a savepoint inside one). False: not possible here."""
    connection = transaction.get_connection()
    if connection.vendor != "postgresql":
        return False
    attempts, events = rows
    with transaction.atomic() if connection.in_atomic_block else nullcontext():
        owned = transitions.deliver_owned_logged(
            [m for m, _, _ in results], now,
            [(DeliveryAttempt, attempts, "message_id"), (Event, events, "message_id")])
        if owned is None:
            return False
        observability.record([e for e in events if e.message_id in owned],
                             [r for r in results if r[0].id in owned])
    return True


def _delivery_rows(results: list, now: datetime) -> tuple[list, list]:
    """The attempt row and the DELIVERED event of each successful delivery."""
    attempts, events = [], []
    for message, outcome, started_at in results:
        body = outcome.body[: qstash_settings.MAX_RESPONSE_BODY_BYTES]
        attempts.append(AttemptDraft(
            message_id=message.id, retried=message.retried, started_at=started_at,
            duration_ms=outcome.duration_ms, response_status=outcome.status,
            response_headers=outcome.headers, response_body=body))
        events.append(event_for(message, State.DELIVERED, now, response_status=outcome.status,
                                response_headers=outcome.headers, response_body=body))
    return attempts, events


def _check_workflow_endpoint(message: Message, outcome: DeliveryOutcome, now: datetime) -> None:
    # Workflow SDKs answer every delivery with their protocol version: a 2xx without it
    # means the run was triggered at something that is not a workflow endpoint.
    if WORKFLOW_SDK_VERSION not in outcome.headers:
        from django_qstash.engine.workflow.steps import not_a_workflow_endpoint  # steps only

        if not_a_workflow_endpoint(message, now):
            _invoked_run_ended(message)


def _invoked_run_ended(message: Message) -> None:
    # A run started by context.invoke hands its outcome to its invoker.
    from django_qstash.engine.workflow.invoke_results import report_ended  # runs only

    report_ended(message.tenant_id, [message.workflow_run_id])


def cancel_claimed(message_id: str, claim_token: int) -> None:
    """A claimed message whose cancel was requested before its attempt started."""
    now = clock.now()
    with transaction.atomic():
        message = transitions.lock_owned(message_id, claim_token)
        if message is None:
            return
        transitions.finish(message, Status.CANCELED, now)
        event = event_for(message, State.CANCELED, now)
        insert_rows(Event, [event])
        observability.record([event])


def _dead_letter(message: Message, outcome: DeliveryOutcome, response_body: bytes,
                 now: datetime) -> str:
    dlq_id = ids.dlq_id(clock.to_ms(now))
    DlqEntry.objects.create(
        dlq_id=dlq_id, tenant_id=message.tenant_id, message=message,
        response_status=outcome.status or 0, response_headers=outcome.headers,
        response_body=response_body, error=outcome.error, created_at=now)
    return dlq_id
