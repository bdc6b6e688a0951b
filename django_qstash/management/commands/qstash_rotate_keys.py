"""Rotate signing keys: next becomes current and a fresh next is made, as POST /v2/keys/rotate."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from django_qstash.engine import observability
from django_qstash.models import SigningKeyPair, Tenant


class Command(BaseCommand):
    help = ("Rotate the signing keys of one or more tenants and print the new pair. Receivers "
            "must learn the new next key before the following rotation.")

    def add_arguments(self, parser):
        parser.add_argument("--tenant", action="append", default=[], metavar="NAME",
                            help="tenant to rotate (repeat for several)")
        parser.add_argument("--all", action="store_true", help="rotate every tenant")
        parser.add_argument("--quiet", action="store_true", help="print nothing on success")

    def handle(self, *args, **options):
        names: list[str] = options["tenant"]
        if bool(names) == options["all"]:
            raise CommandError("give --tenant NAME (repeatable) or --all")
        tenants = Tenant.objects.order_by("name")
        if names:
            tenants = tenants.filter(name__in=names)
            missing = set(names) - set(tenants.values_list("name", flat=True))
            if missing:
                raise CommandError(f"unknown tenant(s): {', '.join(sorted(missing))}")
        for tenant in tenants:
            with transaction.atomic():
                SigningKeyPair.for_tenant(tenant)
                pair = SigningKeyPair.objects.select_for_update().get(tenant=tenant)
                pair.rotate()
            observability.operator_action("shell", "rotate_keys", tenant=tenant.name)
            if not options["quiet"]:
                self.stdout.write(f"# tenant {tenant.name}\n"
                                  f"QSTASH_CURRENT_SIGNING_KEY={pair.current}\n"
                                  f"QSTASH_NEXT_SIGNING_KEY={pair.next}")
