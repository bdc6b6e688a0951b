"""Base view: token auth, JSON only, our error shape, no DRF settings needed in the project."""

from __future__ import annotations

from rest_framework.views import APIView

from django_qstash.api.authentication import HasTenantToken, QStashTokenAuthentication
from django_qstash.api.errors import exception_handler
from django_qstash.api.ratelimit import check_burst, check_daily_quota
from django_qstash.api.rendering import JSONOnly, QStashJSONRenderer
from django_qstash.api.storable import reject_unstorable_json, reject_unstorable_request
from django_qstash.conf import qstash_settings
from django_qstash.core import strict_json
from django_qstash.exceptions import BadRequest, LengthRequired, PayloadTooLarge


class QStashView(APIView):
    authentication_classes = [QStashTokenAuthentication]
    permission_classes = [HasTenantToken]
    renderer_classes = [QStashJSONRenderer]
    parser_classes: list = []  # bodies are read raw: publish bodies are passed through untouched
    content_negotiation_class = JSONOnly
    throttle_classes: list = []

    def get_exception_handler(self):
        return exception_handler

    def initial(self, request, *args, **kwargs) -> None:
        super().initial(request, *args, **kwargs)
        reject_unstorable_request(request, kwargs)

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


def raw_body(request) -> bytes:
    """The request body, at most MAX_BODY_BYTES of it (413 beyond). A body without
    Content-Length (chunked) is read to its end when the server has decoded its framing, as
    granian and gunicorn do (``wsgi.input_terminated``); otherwise it is refused with 411
    rather than taken for empty."""
    limit = qstash_settings.MAX_BODY_BYTES
    meta = request.META
    declared_text = str(meta.get("CONTENT_LENGTH") or "").strip()
    if not declared_text:
        if meta.get("wsgi.input_terminated"):
            return _read_to_end(getattr(request, "_request", request), limit)
        if meta.get("HTTP_TRANSFER_ENCODING"):
            raise LengthRequired("a body without Content-Length cannot be read here: "
                                 "send Content-Length instead of Transfer-Encoding")
    try:
        declared = int(declared_text or 0)
    except ValueError:
        raise BadRequest("invalid Content-Length") from None
    if declared > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    body = request.body
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body


READ_SIZE = 64 * 1024


def _read_to_end(django_request, limit: int) -> bytes:
    """Read the server-decoded body stream, stopping (413) once it passes ``limit``."""
    if hasattr(django_request, "_body"):
        body = django_request._body
    else:
        stream, parts, size = django_request.META["wsgi.input"], [], 0
        while size <= limit:
            part = stream.read(min(READ_SIZE, limit + 1 - size))
            if not part:
                break
            parts.append(part)
            size += len(part)
        body = b"".join(parts)
        django_request._body = body  # what request.body answers from now on
    if len(body) > limit:
        raise PayloadTooLarge(f"request body is larger than {limit} bytes")
    return body


def json_body(request, default=None):
    body = raw_body(request)
    if not body.strip():
        return default
    try:
        data = strict_json.loads(body)
    except strict_json.NestedTooDeeply:
        raise BadRequest("request body is nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadRequest(f"request body is not valid JSON: {exc}") from None
    reject_unstorable_json(data)
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
