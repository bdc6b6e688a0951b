"""Receiver side: verify Upstash-Signature in any Django view (decorator, middleware, DRF)."""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from django_qstash.core.signing import SignatureError
    from django_qstash.receiver.decorators import qstash_verified
    from django_qstash.receiver.middleware import QStashSignatureMiddleware
    from django_qstash.receiver.permissions import QStashSignaturePermission
    from django_qstash.receiver.verification import averify_request, expected_url, verify_request

# Loaded on first access, so importing this package never imports DRF (only the permission
# needs it) and stays cheap before the app registry is ready.
_EXPORTS = {
    "qstash_verified": ".decorators",
    "QStashSignatureMiddleware": ".middleware",
    "QStashSignaturePermission": ".permissions",
    "verify_request": ".verification",
    "averify_request": ".verification",
    "expected_url": ".verification",
    "SignatureError": "..core.signing",
}

__all__ = ["QStashSignatureMiddleware", "QStashSignaturePermission", "SignatureError",
           "averify_request", "expected_url", "qstash_verified", "verify_request"]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(_EXPORTS[name], __name__), name)
    globals()[name] = value
    return value
