"""Base view: token auth, JSON only, our error shape, no DRF settings needed in the project."""

from __future__ import annotations

import json

from rest_framework.renderers import JSONRenderer
from rest_framework.views import APIView

from ..conf import qstash_settings
from ..exceptions import BadRequest, PayloadTooLarge
from .authentication import HasTenantToken, QStashTokenAuthentication
from .errors import exception_handler
from .ratelimit import check_burst, check_daily_quota


class QStashView(APIView):
    authentication_classes = [QStashTokenAuthentication]
    permission_classes = [HasTenantToken]
    renderer_classes = [JSONRenderer]
    parser_classes: list = []  # bodies are read raw: publish bodies are passed through untouched
    throttle_classes: list = []

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        reject_nul(request, kwargs)

    def check_throttles(self, request) -> None:
        # Runs after authentication and permissions, so request.user is a TenantPrincipal.
        self.rate_limit_headers = check_burst(request.user.token.pk)

    def count_messages(self, count: int) -> None:
        """Publish-type views: charge ``count`` messages to the tenant's daily quota."""
        self.rate_limit_headers.update(check_daily_quota(self.tenant.pk, count))

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        for name, value in getattr(self, "rate_limit_headers", {}).items():
            if name not in response:
                response[name] = value
        if hasattr(response, "_resource_closers"):
            response._resource_closers.append(lambda: self._let_go(response))
        return response

    def _let_go(self, response) -> None:
        """Once the answer is sent: this view, its request and its response refer to each
        other, so without this their rows (a list page may hold megabytes of bodies) would
        wait for the cyclic garbage collector, which runs by object counts, not bytes."""
        response.data = None
        response.renderer_context = None
        self.__dict__.pop("response", None)
        self.__dict__.pop("request", None)

    @property
    def tenant(self):
        return self.request.user.tenant

    @property
    def hides_credentials(self) -> bool:
        """Read-only tokens see forwarded Authorization and Cookie headers as REDACTED."""
        return self.request.user.token.read_only


def reject_nul(request, kwargs: dict) -> None:
    """PostgreSQL cannot store NUL characters: refuse them on the way in, naming where."""
    meta = request.META
    query = meta.get("QUERY_STRING", "")
    if ("\x00" not in query and "%00" not in query
            and not any("\x00" in v for v in kwargs.values() if isinstance(v, str))
            and not any("\x00" in v for k, v in meta.items()
                        if k.startswith("HTTP_") and isinstance(v, str))):
        return  # the usual case, checked without building the list below
    parts = [(f"path part {name}", value) for name, value in kwargs.items()]
    parts += [(f"query parameter {key!r}", text) for key, values in request.GET.lists()
              for text in (key, *values)]
    parts += [(f"header {key[5:].replace('_', '-').title()}", value)
              for key, value in request.META.items() if key.startswith("HTTP_")]
    for where, text in parts:
        if isinstance(text, str) and "\x00" in text:
            raise BadRequest(f"{where} contains a NUL character (\\x00), which is not allowed")


def _has_nul(value) -> bool:
    stack = [value]  # iterative: a deeply nested document must not exhaust the stack
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, list):
            stack.extend(item)
        elif isinstance(item, dict):
            stack.extend(item)
            # A batch item's "body" is stored as bytes, where NUL is as good as any byte.
            stack.extend(v for k, v in item.items() if k != "body")
    return False


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
        data = json.loads(body)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    except RecursionError:
        raise BadRequest("request body is nested too deeply") from None
    if _has_nul(data):
        raise BadRequest("request body contains a NUL character (\\u0000), which is not allowed")
    return data


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
