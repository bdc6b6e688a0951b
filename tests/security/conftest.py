"""Every security test runs under the loopback-only guard: nothing it does may leave the machine."""

from __future__ import annotations

import pytest

from tests.support.no_egress import loopback_only


@pytest.fixture(autouse=True)
def loopback_guard():
    with loopback_only() as violations:
        yield violations
    assert not violations, f"the test tried to reach beyond loopback: {violations}"
