"""A POST view base for the hot endpoints: QStashView's checks and answers without DRF's
request wrapping, content negotiation and rendering, which cost as much as the publish."""

from __future__ import annotations

from django.http import HttpResponse
from rest_framework import exceptions as drf

from django_qstash.api.authentication import HasTenantToken, QStashTokenAuthentication
from django_qstash.api.base import QStashView
from django_qstash.api.errors import exception_handler
from django_qstash.api.ratelimit import check_burst
from django_qstash.api.rendering import QStashJSONRenderer, encode_json
from django_qstash.api.storable import reject_unstorable_request

AUTHENTICATE_HEADER = 'Bearer realm="qstash"'


def json_response(data, status: int = 200) -> HttpResponse:
    """What DRF's JSONRenderer writes (compact, UTF-8), without the renderer machinery."""
    return HttpResponse(encode_json(data), status=status, content_type="application/json")


class LeanQStashView(QStashView):
    """Same authentication, read-only rule, limits, unstorable-text check and error bodies as
    QStashView; the schema generator still sees a DRF view. Only POST takes the lean path."""

    def dispatch(self, request, *args, **kwargs):
        if request.method != "POST":
            return super().dispatch(request, *args, **kwargs)
        self.args, self.kwargs, self.request = args, kwargs, request
        self.headers, self.rate_limit_headers = {}, {}
        try:
            self._authorize(request)
            reject_unstorable_request(request, kwargs)
            response = self.post(request, *args, **kwargs)
        except Exception as exc:
            response = self._error(exc)
        for name, value in self.rate_limit_headers.items():
            if name not in response:
                response[name] = value
        return response

    def _authorize(self, request) -> None:
        result = QStashTokenAuthentication().authenticate(request)
        if result is None:
            raise drf.NotAuthenticated()
        request.user = result[0]
        if not HasTenantToken().has_permission(request, self):
            raise drf.PermissionDenied(HasTenantToken.message)
        self.rate_limit_headers = check_burst(result[1].pk)

    def _error(self, exc: Exception) -> HttpResponse:
        if isinstance(exc, (drf.NotAuthenticated, drf.AuthenticationFailed)):
            exc.auth_header = AUTHENTICATE_HEADER  # as APIView.handle_exception sets it
        response = exception_handler(exc, {"view": self, "request": self.request})
        if getattr(exc, "auth_header", None) and "WWW-Authenticate" not in response:
            response["WWW-Authenticate"] = exc.auth_header
        response.accepted_renderer = QStashJSONRenderer()
        response.accepted_media_type = "application/json"
        response.renderer_context = {}
        return response.render()
