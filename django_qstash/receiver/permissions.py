"""Django REST framework permission that requires a valid Upstash-Signature."""

from __future__ import annotations

from typing import Any

from rest_framework import status
from rest_framework.exceptions import APIException
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from django_qstash.core.signing import SignatureError
from django_qstash.receiver.verification import log_rejection, verify_request


class QStashSignatureInvalid(APIException):
    """401 rendered by DRF's exception handler as ``{"error": "<reason>"}``."""

    status_code = status.HTTP_401_UNAUTHORIZED
    default_code = "qstash_signature_invalid"

    def __init__(self, reason: str) -> None:
        # A dict detail is rendered as the body itself, not wrapped in {"detail": ...}.
        super().__init__(detail={"error": reason})


class QStashSignaturePermission(BasePermission):
    """Allow only requests QStash signed: ``permission_classes = [QStashSignaturePermission]``.

    DRF views are CSRF-exempt already; verified claims end up in ``request.qstash_claims``.
    """

    def has_permission(self, request: Request, view: Any) -> bool:
        # Verify against the Django request: its .body is still the raw bytes, DRF has not
        # parsed request.data yet (permissions run before the handler touches it).
        django_request = request._request
        try:
            verify_request(django_request)
        except SignatureError as error:
            log_rejection(django_request, error)
            raise QStashSignatureInvalid(error.reason) from error
        return True
