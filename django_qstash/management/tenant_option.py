"""The ``--tenant`` option of the commands: "default" comes into being on first use, others not."""

from __future__ import annotations

from django.core.management.base import CommandError

from django_qstash.client import resolve_tenant
from django_qstash.exceptions import NotFound
from django_qstash.models import Tenant


def tenant_named(name: str) -> Tenant:
    """As the Python client resolves it; a typo is an error naming the way to create one."""
    try:
        return resolve_tenant(name)
    except NotFound:
        raise CommandError(f"unknown tenant {name!r} "
                           "(qstash_create_token --tenant NAME creates one)") from None
