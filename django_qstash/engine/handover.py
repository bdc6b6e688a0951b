"""The engine's port to delivery: claimed work is handed to whatever transport delivery installs."""

from __future__ import annotations

from importlib import import_module
from typing import Protocol

from django_qstash.core.leases import WorkItem

# The engine never imports delivery (delivery imports the engine); the module that implements
# this port is named here and loaded on first use, as Django loads a configured backend.
IMPLEMENTATION = "django_qstash.delivery.transport"


class Delivery(Protocol):
    def hand_over(self, items: list[WorkItem], inserted: list | None = None) -> None: ...
    def submit_or_leave_to_lease(self, items: list[WorkItem]) -> None: ...


_delivery: Delivery | None = None


def _implementation() -> Delivery:
    global _delivery
    if _delivery is None:
        _delivery = import_module(IMPLEMENTATION)
    return _delivery


def hand_over(items: list[WorkItem], inserted: list | None = None) -> None:
    """Publishing's way out for due-now messages (after commit); ``inserted``: their rows as
    written, in the same order, for a sender in this process to use instead of reading them."""
    _implementation().hand_over(items, inserted)


def submit_or_leave_to_lease(items: list[WorkItem]) -> None:
    """The dispatcher's way out: if the hand-over fails, the rows' leases bring them back."""
    _implementation().submit_or_leave_to_lease(items)
