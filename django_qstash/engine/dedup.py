"""Deduplication by id or by content, decided by a unique database row, per tenant."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction

from django_qstash.conf import qstash_settings
from django_qstash.core.request_headers import PublishOptions
from django_qstash.models import DeduplicationRecord, Tenant


def deduplication_key(destination: str, body: bytes, options: PublishOptions) -> str | None:
    if options.deduplication_id:
        material = b"id\0" + destination.encode() + b"\0" + options.deduplication_id.encode()
    elif options.content_based_deduplication:
        # destination + body + Content-Type + forwarded headers, as QStash documents it.
        forwarded = sorted((k, tuple(v)) for k, v in options.headers.items())
        material = b"content\0" + "\0".join(
            [destination, options.content_type, repr(forwarded)]
        ).encode() + b"\0" + body
    else:
        return None
    return hashlib.sha256(material).hexdigest()


def first_with_key(tenant: Tenant, key: str, message_id: str, now: datetime) -> str | None:
    """Record ``key`` for ``message_id``; return the original message id if it is a duplicate.

    Must run inside the publishing transaction: the unique constraint serialises racers.
    """
    expires = now + timedelta(seconds=qstash_settings.DEDUPLICATION_WINDOW_SECONDS)
    existing = DeduplicationRecord.objects.filter(tenant=tenant, key=key).first()
    if existing and existing.expires_at > now:
        return existing.message_id
    if existing:  # expired: take it over
        updated = DeduplicationRecord.objects.filter(pk=existing.pk, expires_at__lte=now).update(
            message_id=message_id, expires_at=expires)
        if updated:
            return None
    try:
        with transaction.atomic():
            DeduplicationRecord.objects.create(tenant=tenant, key=key, message_id=message_id,
                                               expires_at=expires)
    except IntegrityError:
        return DeduplicationRecord.objects.get(tenant=tenant, key=key).message_id
    return None
