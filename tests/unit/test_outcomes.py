"""What an attempt's outcome means, as a table: status, events, retry time, DLQ, callbacks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import pytest

from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.core.backoff import default_backoff_seconds
from django_qstash.engine.outcomes import decide

NOW = datetime(2025, 1, 1, 12, 0, 0, tzinfo=timezone.utc)


@dataclass
class Facts:
    retried: int = 0
    max_retries: int = 3
    cancel_requested: bool = False
    callback: str = ""
    failure_callback: str = ""
    retry_delay_expression: str = ""


def answered(status: int | None, non_retryable: bool = False, **headers: str) -> DeliveryOutcome:
    error = "" if status and 200 <= status < 300 else f"destination answered {status}"
    return DeliveryOutcome(status, {k.replace("_", "-"): [v] for k, v in headers.items()}, b"",
                           error, 5, non_retryable)


CB, FCB = "https://cb.example/", "https://fail.example/"


@pytest.mark.parametrize(("facts", "outcome", "status", "events", "to_dlq", "callbacks"), [
    # delivered: nothing else matters, not even a cancel requested in flight
    (Facts(), answered(200), "delivered", ("DELIVERED",), False, ()),
    (Facts(cancel_requested=True), answered(204), "delivered", ("DELIVERED",), False, ()),
    (Facts(retried=3), answered(201), "delivered", ("DELIVERED",), False, ()),
    (Facts(callback=CB, failure_callback=FCB), answered(200), "delivered", ("DELIVERED",),
     False, ("callback",)),
    # cancelled in flight: the failed attempt ends it, retries or not
    (Facts(cancel_requested=True), answered(500), "canceled", ("ERROR", "CANCELED"), False, ()),
    (Facts(cancel_requested=True, retried=3), answered(None), "canceled",
     ("ERROR", "CANCELED"), False, ()),
    (Facts(cancel_requested=True, callback=CB, failure_callback=FCB), answered(500), "canceled",
     ("ERROR", "CANCELED"), False, ("callback",)),
    # to the DLQ: retries used up, or the destination says not to retry
    (Facts(retried=3), answered(500), "failed", ("ERROR", "FAILED"), True, ()),
    (Facts(retried=0, max_retries=0), answered(None), "failed", ("ERROR", "FAILED"), True, ()),
    (Facts(), answered(489, non_retryable=True), "failed", ("ERROR", "FAILED"), True, ()),
    (Facts(retried=3, failure_callback=FCB), answered(500), "failed", ("ERROR", "FAILED"),
     True, ("failure_callback",)),
    (Facts(retried=3, callback=CB, failure_callback=FCB), answered(500), "failed",
     ("ERROR", "FAILED"), True, ("callback", "failure_callback")),
    # retried: pending again, a callback after each failed attempt too
    (Facts(), answered(500), "pending", ("ERROR", "RETRY"), False, ()),
    (Facts(retried=2), answered(None), "pending", ("ERROR", "RETRY"), False, ()),
    (Facts(callback=CB, failure_callback=FCB), answered(503), "pending", ("ERROR", "RETRY"),
     False, ("callback",)),
])
def test_what_an_outcome_means(facts, outcome, status, events, to_dlq, callbacks):
    decision = decide(facts, outcome, NOW)
    assert decision.status == status
    assert tuple(decision.events) == events
    assert decision.to_dlq is to_dlq
    assert decision.callbacks == callbacks
    assert (decision.retry_at is not None) is (status == "pending")
    assert decision.frees_place  # every outcome leaves ACTIVE: the key or queue place is free


@pytest.mark.parametrize(("facts", "outcome", "seconds"), [
    (Facts(), answered(500), default_backoff_seconds(1)),
    (Facts(retried=2), answered(500), default_backoff_seconds(3)),
    # the destination's hint beats any configuration
    (Facts(retry_delay_expression="1000"), answered(429, Retry_After="7"), 7),
    (Facts(retry_delay_expression="1000 * (1 + retried)", retried=2), answered(500), 3),
    # a stored expression that no longer compiles falls back to the default backoff
    (Facts(retry_delay_expression="pow(", retried=1), answered(500), default_backoff_seconds(2)),
])
def test_when_a_retry_is_due(facts, outcome, seconds):
    decision = decide(facts, outcome, NOW)
    assert decision.retry_at == NOW + timedelta(seconds=seconds)


def test_deciding_changes_nothing():
    facts = Facts(retried=1, callback=CB)
    decide(facts, answered(500), NOW)
    assert facts == Facts(retried=1, callback=CB)
