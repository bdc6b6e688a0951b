"""Tenant set-up: a tenant always comes with signing keys; the dev server's default tenant."""

from __future__ import annotations

from django.db import transaction

from django_qstash.models import ApiToken, SigningKeyPair, Tenant, hash_token

DEFAULT_TENANT = "default"


def create_tenant(name: str) -> Tenant:
    with transaction.atomic():
        tenant, _ = Tenant.objects.get_or_create(name=name)
        SigningKeyPair.for_tenant(tenant)
    return tenant


def ensure_credentials(tenant: Tenant, *, token: str, current_key: str, next_key: str) -> None:
    """Make the tenant answer to ``token`` and sign with the given keys (idempotent)."""
    with transaction.atomic():
        if not ApiToken.objects.filter(token_hash=hash_token(token)).exists():
            ApiToken.issue(tenant, name="dev", raw=token)
        SigningKeyPair.objects.update_or_create(
            tenant=tenant, defaults={"current": current_key, "next": next_key})
