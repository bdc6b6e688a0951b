"""Taking entries out of the DLQ, counted per tenant and minute so the dashboard can draw its size."""

from __future__ import annotations

from collections import defaultdict

from django.db import transaction
from django.db.models import QuerySet

from django_qstash.core import clock
from django_qstash.db.bulk_insert import insert_groups
from django_qstash.engine.rollups import removal_groups
from django_qstash.models import DlqEntry


def remove_entries(entries: QuerySet) -> int:
    """Delete ``entries`` and add what was deleted to the rollups' ``dlq_removed``, in one
    transaction; returns how many were deleted (entries already gone count nothing)."""
    now = clock.now()
    with transaction.atomic():
        by_tenant: dict[int, list[int]] = defaultdict(list)
        for pk, tenant_id in entries.order_by().values_list("pk", "tenant_id"):
            by_tenant[tenant_id].append(pk)
        # One DELETE per tenant: its row count is what this transaction removed, even when
        # another one deleted some of the same entries first.
        removed = {tenant_id: DlqEntry.objects.filter(pk__in=pks).delete()[0]
                   for tenant_id, pks in by_tenant.items()}
        insert_groups(removal_groups({t: n for t, n in removed.items() if n}, now))
    return sum(removed.values())
