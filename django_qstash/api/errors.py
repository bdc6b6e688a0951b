"""Render every API error as ``{"error": "..."}`` with the right status, never a bare 500."""

from __future__ import annotations

import logging

from django.core.exceptions import RequestDataTooBig
from django.db import InterfaceError, OperationalError
from django.http import JsonResponse
from django.urls import resolve
from django.utils.decorators import method_decorator
from django.views import View, defaults
from django.views.decorators.csrf import csrf_exempt
from rest_framework import exceptions as drf
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from django_qstash.core.url_views import is_api_view
from django_qstash.db.group_commit import GroupCommitTimeout
from django_qstash.exceptions import ApiError

logger = logging.getLogger("django_qstash.api")


def _text(detail) -> str:
    if isinstance(detail, list):
        return "; ".join(_text(d) for d in detail)
    if isinstance(detail, dict):
        return "; ".join(f"{k}: {_text(v)}" for k, v in detail.items())
    return str(detail)


def exception_handler(exc, context):
    if isinstance(exc, ApiError):
        return Response({"error": exc.message}, status=exc.status,
                        headers=getattr(exc, "headers", None))
    if isinstance(exc, RequestDataTooBig):
        return Response({"error": "request body is too large"}, status=413)
    if isinstance(exc, drf.NotAuthenticated):
        return Response({"error": "missing token: send Authorization: Bearer <token>"}, status=401,
                        headers={"WWW-Authenticate": 'Bearer realm="qstash"'})
    response = drf_exception_handler(exc, context)
    if response is not None:
        text = _text(exc.detail) if hasattr(exc, "detail") else str(exc)
        # Django's Http404 and PermissionDenied usually carry no message: say what the status says.
        response.data = {"error": text.strip() or response.status_text.lower()}
        return response
    if isinstance(exc, (InterfaceError, OperationalError)):
        logger.exception("database unavailable")
        return Response({"error": "database unavailable, try again"}, status=503)
    if isinstance(exc, GroupCommitTimeout):
        logger.warning("publish not stored in time: %s", exc)
        return Response({"error": f"{exc}, try again"}, status=503)
    logger.exception("unhandled API error")
    return Response({"error": "internal error"}, status=500)


@method_decorator(csrf_exempt, name="dispatch")  # like the API views: token auth, no cookies
class UnknownEndpointView(View):
    """Any other path under /v2/: a JSON 404 rather than the site's HTML page."""

    def dispatch(self, request, *args, **kwargs) -> JsonResponse:
        return JsonResponse({"error": f"no such endpoint: {request.method} {request.path}"},
                            status=404)


def bad_request(request, exception=None):
    """The site's ``handler400``: ``{"error": ...}`` on the API's paths, Django's page elsewhere.
    Django refuses some requests before any view runs (a Host header that is not a host name,
    one outside ALLOWED_HOSTS) and answers them with this handler, which is HTML by default;
    the API's clients read JSON."""
    if is_api_path(request.path_info):
        return JsonResponse({"error": str(exception or "") or "bad request"}, status=400)
    return defaults.bad_request(request, exception)


def is_api_path(path_info: str) -> bool:
    """Whether the site's URLconf routes ``path_info`` to the API, wherever it is mounted:
    every path under the API's /v2/ resolves to one of its views (unknown ones to
    UnknownEndpointView)."""
    try:
        view = resolve(path_info).func
    except Exception:  # noqa: BLE001 — Resolver404, or a project's converter failing: a 400 stays a 400
        return False
    return is_api_view(view)
