"""The sliding rate log: which starts still count, and how long a send waits for a free slot."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from django_qstash.engine.flow_control import (
    MIN_WAIT_SECONDS,
    in_window,
    slot_wait,
)
from django_qstash.engine.flow_control import (
    RATE_GUARD_SECONDS as GUARD,
)


def test_a_slot_is_free_while_the_window_holds_fewer_than_rate():
    assert slot_wait([], 100.0, 3, 1) == ([], 0.0)
    assert slot_wait([99.5, 99.9], 100.0, 3, 1) == ([99.5, 99.9], 0.0)


def test_starts_older_than_period_and_guard_leave_the_window():
    log = [98.0, 99.0 - GUARD, 99.0 - GUARD / 2, 99.5]
    assert in_window(log, 100.0, 1) == [99.0 - GUARD / 2, 99.5]
    assert in_window(log, 100.0, 60) == log


def test_a_full_window_waits_until_its_oldest_start_leaves():
    kept, wait = slot_wait([99.2, 99.5, 99.9], 100.0, 3, 1)
    assert kept == [99.2, 99.5, 99.9]
    assert wait == pytest.approx(0.2 + GUARD)


def test_the_period_sets_the_wait():
    _, wait = slot_wait([40.0, 70.0], 100.0, 2, 60)
    assert wait == pytest.approx(0.0 + GUARD)
    _, wait = slot_wait([70.0, 90.0], 100.0, 2, 60)
    assert wait == pytest.approx(30.0 + GUARD)


def test_after_a_rate_decrease_enough_starts_must_leave():
    # Four starts in the window, rate now 2: three must leave before one more may start.
    _, wait = slot_wait([99.6, 99.1, 99.8, 99.3], 100.0, 2, 1)
    assert wait == pytest.approx(99.6 + 1 + GUARD - 100.0)


def test_a_full_window_never_answers_zero():
    # At the exact moment the oldest leaves, rounding must not make "taken" of "wait".
    _, wait = slot_wait([99.0 - GUARD + 1e-12], 100.0, 1, 1)
    assert wait >= MIN_WAIT_SECONDS


@given(st.lists(st.floats(0, 10, allow_nan=False), max_size=30),
       st.integers(1, 5), st.integers(1, 3))
def test_taking_each_slot_when_offered_keeps_every_window_within_rate(requests, rate, period):
    """Sends start when slot_wait allows; no window of period+guard ever holds more than rate."""
    log: list[float] = []
    starts: list[float] = []
    now = 0.0
    for request in sorted(requests):
        now = max(now, request)  # one sender at a time, and time only moves forward
        while True:
            kept, wait = slot_wait(log, now, rate, period)
            if wait == 0:
                log = kept + [now]
                starts.append(now)
                break
            assert wait > 0
            now += wait
    for first in starts:
        assert sum(1 for t in starts if first <= t < first + period + GUARD) <= rate
