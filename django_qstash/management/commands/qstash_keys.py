"""Print a tenant's signing keys, ready to export for receivers that verify its deliveries."""

from __future__ import annotations

from django.core.management.base import BaseCommand

from django_qstash.engine.tenants import DEFAULT_TENANT
from django_qstash.management.tenant_option import tenant_named
from django_qstash.models import SigningKeyPair


class Command(BaseCommand):
    help = ("Print the signing keys a tenant's deliveries are signed with, as "
            "QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY lines. The default tenant is "
            "created on first use, as the Python client does.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant name")

    def handle(self, *args, **options):
        tenant = tenant_named(options["tenant"])
        keys = SigningKeyPair.for_tenant(tenant)
        self.stdout.write(f"QSTASH_CURRENT_SIGNING_KEY={keys.current}\n"
                          f"QSTASH_NEXT_SIGNING_KEY={keys.next}")
