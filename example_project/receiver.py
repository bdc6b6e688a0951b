"""A demo receiver: only requests QStash signed reach it; it logs each one and may record it."""

from __future__ import annotations

import base64
import json
import logging
import os
import threading
from typing import Any

from django.http import HttpRequest, JsonResponse
from django.urls import path

from django_qstash.receiver import qstash_verified

# Under django_qstash so the example settings' console handler shows it at INFO.
logger = logging.getLogger("django_qstash.example")

# Set to a file path to append one JSON line per accepted message (used by the end-to-end
# test). It holds the signature too, so that a request can be replayed on purpose; the token
# is short-lived, but leave this unset outside development.
RECORD_FILE_VARIABLE = "EXAMPLE_RECEIVER_LOG"
_record_lock = threading.Lock()  # the dev server answers on several threads


def _record(entry: dict[str, Any]) -> None:
    target = os.environ.get(RECORD_FILE_VARIABLE)
    if not target:
        return
    with _record_lock, open(target, "a", encoding="utf-8") as file:
        file.write(json.dumps(entry) + "\n")


@qstash_verified
def hook(request: HttpRequest) -> JsonResponse:
    """Accept any method: QStash delivers with the publisher's Upstash-Method."""
    message_id = request.headers.get("Upstash-Message-Id", "")
    body = request.body
    logger.info("example receiver: message %s, %s, %d bytes, retried %s", message_id or "-",
                request.content_type, len(body), request.headers.get("Upstash-Retried", "0"))
    _record({
        "messageId": message_id,
        "retried": request.headers.get("Upstash-Retried", ""),
        "method": request.method,
        "url": request.qstash_claims["sub"],  # type: ignore[attr-defined]
        "contentType": request.headers.get("Content-Type", ""),
        "signature": request.headers["Upstash-Signature"],
        "bodyBase64": base64.b64encode(body).decode(),
    })
    # Receivers dedupe by Upstash-Message-Id: delivery is at-least-once.
    return JsonResponse({"ok": True, "messageId": message_id})


urlpatterns = [path("hook", hook, name="example-hook")]
