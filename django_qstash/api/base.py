"""Base view: token auth, JSON only, our error shape, no DRF settings needed in the project."""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ..conf import qstash_settings
from ..exceptions import BadRequest, PayloadTooLarge
from .authentication import HasTenantToken, QStashTokenAuthentication
from .errors import exception_handler


class QStashView(APIView):
    authentication_classes = [QStashTokenAuthentication]
    permission_classes = [HasTenantToken]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []  # bodies are read raw: publish bodies are passed through untouched
    throttle_classes: list = []

    def get_exception_handler(self):
        return exception_handler

    @property
    def tenant(self):
        return self.request.user.tenant


def raw_body(request) -> bytes:
    limit = qstash_settings.MAX_BODY_BYTES
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if declared > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    body = request.body
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body


def json_body(request, default=None):
    body = raw_body(request)
    if not body.strip():
        return default
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None


def caller_ip(request) -> str:
    return request.META.get("REMOTE_ADDR", "")


def header_pairs(request) -> list[tuple[str, str]]:
    """Request headers as (name, value) pairs, from the WSGI/ASGI META."""
    pairs = []
    for key, value in request.META.items():
        if key.startswith("HTTP_"):
            pairs.append((key[5:].replace("_", "-"), value))
        elif key == "CONTENT_TYPE" and value:
            pairs.append(("Content-Type", value))
    return pairs
