"""Fixtures of the engine and delivery tests."""

from __future__ import annotations

import pytest

from django_qstash.delivery.runtime import current


@pytest.fixture
def runtime():
    """This process's runtime, with no part running when the test starts and none left when
    it ends."""
    runtime = current()
    runtime.stop()
    runtime.join()
    yield runtime
    runtime.stop()
    runtime.join()
