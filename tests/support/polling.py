"""Wait for a condition the server reaches in its own time: ask again until it holds."""

from __future__ import annotations

import time


def wait(predicate, timeout: float = 20, every: float = 0.02, what: str = "the condition"):
    """The first truthy value of ``predicate()``, asked every ``every`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(every)
    raise AssertionError(f"timed out waiting for {what}")


def wait_for(what: str, probe, timeout: float = 20):
    """``wait`` for ``what``, named first: the failure says what never came."""
    return wait(probe, timeout, every=0.05, what=what)
