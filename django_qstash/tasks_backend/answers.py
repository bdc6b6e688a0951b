"""What the execution endpoint answers that no retry could help, and who this worker is."""

from __future__ import annotations

import os
import socket

from django.http import JsonResponse


def worker_id() -> str:
    """This process, as a task result records it: read at each attempt, not at import, so a
    worker forked after the import (Celery's prefork children, gunicorn's workers) names itself."""
    return f"{socket.gethostname()}:{os.getpid()}"[:64]


def permanent_failure(reason: str) -> JsonResponse:
    """A message no retry could help: the delivery engine moves it to the DLQ at once."""
    response = JsonResponse({"error": reason}, status=489)
    response["Upstash-NonRetryable-Error"] = "true"
    return response
