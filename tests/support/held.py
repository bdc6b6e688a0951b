"""A transport that keeps what it is handed, for a test to process itself."""

from __future__ import annotations


class HeldTransport:
    """``QSTASH["TRANSPORT"] = "tests.support.held.HeldTransport"``: publishing's hand-overs
    land in ``items`` (directly, as in-process) instead of reaching a worker."""

    in_process = True

    def __init__(self) -> None:
        self.items: list = []

    def submit(self, items: list) -> None:
        self.items.extend(items)
