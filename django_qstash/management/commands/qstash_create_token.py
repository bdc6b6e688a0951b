"""Create an API token for a tenant (creating the tenant if needed); prints the secret once."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from django_qstash.engine.tenants import DEFAULT_TENANT, create_tenant
from django_qstash.models import ApiToken, hash_token


class Command(BaseCommand):
    help = "Create an API token. The secret is printed once; only its hash is stored."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", default=DEFAULT_TENANT, help="tenant name (created if new)")
        parser.add_argument("--name", default="", help="a label for the token")
        parser.add_argument("--read-only", action="store_true", help="a token that can only read")
        parser.add_argument("--token", default="",
                            help="use this secret instead of a random one (e.g. to pin it)")
        parser.add_argument("--quiet", action="store_true", help="print only the token")

    def handle(self, *args, **options):
        if options["token"] and len(options["token"]) < 16:
            raise CommandError("--token must be at least 16 characters long")
        if options["token"] and ApiToken.objects.filter(token_hash=hash_token(options["token"])).exists():
            raise CommandError("that token already exists")
        tenant = create_tenant(options["tenant"])
        _, secret = ApiToken.issue(tenant, name=options["name"], read_only=options["read_only"],
                                   raw=options["token"] or None)
        if options["quiet"]:
            self.stdout.write(secret)
        else:
            kind = "read-only token" if options["read_only"] else "token"
            self.stdout.write(f"Created {kind} for tenant {tenant.name!r}:\nQSTASH_TOKEN={secret}")
