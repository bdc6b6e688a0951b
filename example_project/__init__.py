"""Example Django project running the QStash-compatible server."""

try:  # The Celery app is optional: the receiver half runs without Celery installed.
    from .celery import app as celery_app
except ImportError:  # pragma: no cover - exercised only without the server extra
    celery_app = None

__all__ = ["celery_app"]
