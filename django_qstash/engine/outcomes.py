"""What an attempt's outcome means for its message, decided without touching the database."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.core.backoff import next_retry_delay_seconds
from django_qstash.core.header_names import first_values
from django_qstash.core.retry_delay import RetryDelayError, compile_retry_delay
from django_qstash.models import Event, Message

Status = Message.Status
State = Event.State


class Attempted(Protocol):
    """What of the message the decision reads (a Message, or anything with these fields)."""

    retried: int
    max_retries: int
    cancel_requested: bool
    callback: str
    failure_callback: str
    retry_delay_expression: str


@dataclass(frozen=True)
class Decision:
    """``status`` is the message's next status; ``retry_at`` is set when it is PENDING again.
    ``events`` are the states logged, in order; ``callbacks`` the follow-up messages to create
    ("callback", "failure_callback"), in that order. Every outcome takes the message out of
    ACTIVE, which is what frees its queue's or flow-control key's place (both count ACTIVE
    rows): no release of its own is needed."""

    status: str
    events: tuple[str, ...]
    retry_at: datetime | None = None
    to_dlq: bool = False
    callbacks: tuple[str, ...] = ()

    @property
    def frees_place(self) -> bool:
        return self.status != Status.ACTIVE


def decide(message: Attempted, outcome: DeliveryOutcome, now: datetime) -> Decision:
    """Delivered; else cancelled (a cancel was requested while in flight); else failed to the
    DLQ (the destination said not to retry, or the retries are used up); else retried later,
    when the destination's hint, the message's retry-delay expression or the default backoff
    says. A success callback follows every attempt; a failure callback only a DLQ."""
    callbacks: tuple[str, ...] = ("callback",) if message.callback else ()
    if outcome.delivered:
        return Decision(Status.DELIVERED, (State.DELIVERED,), callbacks=callbacks)
    if message.cancel_requested:
        return Decision(Status.CANCELED, (State.ERROR, State.CANCELED), callbacks=callbacks)
    if outcome.non_retryable or message.retried >= message.max_retries:
        if message.failure_callback:
            callbacks += ("failure_callback",)
        return Decision(Status.FAILED, (State.ERROR, State.FAILED), to_dlq=True,
                        callbacks=callbacks)
    delay = next_retry_delay_seconds(message.retried, _expression(message),
                                     first_values(outcome.headers), now)
    return Decision(Status.PENDING, (State.ERROR, State.RETRY),
                    retry_at=now + timedelta(seconds=delay), callbacks=callbacks)


def _expression(message: Attempted):
    if not message.retry_delay_expression:
        return None
    try:
        return compile_retry_delay(message.retry_delay_expression)
    except RetryDelayError:
        return None  # validated at publish; a stored bad one falls back to the default
