"""API authentication: ``Authorization: Bearer <token>`` or ``?qstash_token=<token>``."""

from __future__ import annotations

import hmac
from dataclasses import dataclass

from rest_framework.authentication import BaseAuthentication
from rest_framework.exceptions import AuthenticationFailed
from rest_framework.permissions import SAFE_METHODS, BasePermission

from django_qstash.api.token_cache import active_token
from django_qstash.models import ApiToken, Tenant, hash_token


@dataclass
class TenantPrincipal:
    """Stands in for ``request.user``: who called, with which token."""

    tenant: Tenant
    token: ApiToken
    is_authenticated: bool = True


class QStashTokenAuthentication(BaseAuthentication):
    def authenticate(self, request):
        raw = _bearer(request.META.get("HTTP_AUTHORIZATION", "")) or _query_token(request)
        if not raw:
            return None
        # Only digests are stored and looked up, so index timing reveals nothing about the
        # secret; the final comparison is constant-time all the same.
        digest = hash_token(raw.strip())
        token = active_token(digest)
        if token is None or not hmac.compare_digest(token.token_hash, digest):
            raise AuthenticationFailed("invalid token")
        return TenantPrincipal(token.tenant, token), token

    def authenticate_header(self, request) -> str:
        return 'Bearer realm="qstash"'


def _query_token(request) -> str:
    # Tokens are base64: a "+" sent unescaped in a query string arrives as a space.
    return (request.GET.get("qstash_token") or "").replace(" ", "+")


def _bearer(header: str) -> str:
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" else ""


class HasTenantToken(BasePermission):
    """Any valid token may read; a read-only token may not change anything."""

    message = "this token is read-only"

    def has_permission(self, request, view) -> bool:
        principal = request.user
        if not isinstance(principal, TenantPrincipal):
            return False
        return request.method in SAFE_METHODS or not principal.token.read_only


class HasReadWriteToken(HasTenantToken):
    """Key material: whoever reads the signing keys can forge deliveries every receiver of the
    tenant accepts, so reading them takes a token that may also change things."""

    message = "reading signing keys needs a read-write token: this token is read-only"

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and not request.user.token.read_only
