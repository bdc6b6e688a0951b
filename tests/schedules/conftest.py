"""Fixtures for schedule tests: a frozen clock (restored afterwards) and a tenant."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from django_qstash.core.clock import FrozenClock, SystemClock, set_clock


@pytest.fixture
def frozen_clock():
    clock = FrozenClock(datetime(2026, 3, 2, 9, 0, 30, tzinfo=timezone.utc))
    set_clock(clock)
    yield clock
    set_clock(SystemClock())


@pytest.fixture
def tenant(db):
    from django_qstash.engine.tenants import create_tenant

    return create_tenant("schedules")
