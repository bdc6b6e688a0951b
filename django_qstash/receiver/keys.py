"""The keys a receiver verifies with: configured ones, else those of this site's own tenant."""

from __future__ import annotations

from asgiref.sync import sync_to_async

from django_qstash.conf import qstash_settings

Keys = tuple[str | None, str | None]


def configured_keys() -> Keys:
    return qstash_settings.CURRENT_SIGNING_KEY, qstash_settings.NEXT_SIGNING_KEY


def uses_local_tenant() -> bool:
    """True when no key is configured and LOCAL_TENANT names a tenant of this site's server."""
    return not any(configured_keys()) and bool(qstash_settings.LOCAL_TENANT)


def _local_tenant_keys() -> Keys:
    # Imported here: a receiver-only install has no server models, and never gets here.
    from django_qstash.models import SigningKeyPair

    # Read on every request: a rotation (admin, API, command) counts at once.
    pair = (SigningKeyPair.objects.filter(tenant__name=qstash_settings.LOCAL_TENANT)
            .values_list("current", "next").first())
    return pair or (None, None)


def signing_keys() -> Keys:
    return _local_tenant_keys() if uses_local_tenant() else configured_keys()


async def asigning_keys() -> Keys:
    if uses_local_tenant():
        return await sync_to_async(_local_tenant_keys)()
    return configured_keys()
