"""A ``django.tasks`` backend (Django 6+, or the ``django-tasks`` backport) on this server."""

from __future__ import annotations

from typing import Any

__all__ = ["QStashTaskBackend"]


def __getattr__(name: str) -> Any:
    # Loaded on first use: django_qstash.urls imports the endpoint from this package, and
    # sites without the task API (an optional dependency) must still import it.
    if name == "QStashTaskBackend":
        from django_qstash.tasks_backend.backend import QStashTaskBackend

        return QStashTaskBackend
    raise AttributeError(name)
