"""Retry DLQ entries: a new message with the original's content, optionally reconfigured."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction

from django_qstash.core import clock, ids
from django_qstash.core.request_headers import PublishOptions
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.publishing import label_index, save_messages
from django_qstash.engine.workflow import delivered
from django_qstash.models import DlqEntry, Message


def retry_entries(entries: list[DlqEntry], overrides: PublishOptions | None = None) -> list[str]:
    """Re-publish each entry's message and delete the entry; returns the new message ids."""
    now = clock.now()
    new_messages = []
    with transaction.atomic():
        for entry in entries:
            new_messages.append(copy_message(entry.message, overrides, now))
        save_messages(new_messages, now)
        remove_entries(DlqEntry.objects.filter(pk__in=[e.pk for e in entries]))
    return [m.id for m in new_messages]


def copy_message(old: Message, overrides: PublishOptions | None, now) -> Message:
    """An unsaved copy of ``old`` with a new id, due now, reconfigured by ``overrides``."""
    skip = {"id", "status", "retried", "cancel_requested", "not_before", "created_at",
            "updated_at", "finished_at", "lease_expires_at", "claim_token", "deduplication_id"}
    fields = {f.attname: getattr(old, f.attname) for f in Message._meta.concrete_fields
              if f.attname not in skip}
    # A workflow step's body is composed for its own id; the copy's new id names no step.
    fields["body"] = delivered.materialized(old)
    message = Message(**fields, id=ids.message_id(), not_before=now, created_at=now)
    if overrides:
        _apply(message, overrides, now)
    return message


def _apply(message: Message, opts: PublishOptions, now) -> None:
    if opts.retries is not None:
        message.max_retries = opts.retries
    if opts.retry_delay:
        message.retry_delay_expression = opts.retry_delay
    if opts.timeout_seconds:
        message.timeout_seconds = opts.timeout_seconds
    if opts.delay_seconds:
        message.not_before = now + timedelta(seconds=opts.delay_seconds)
    if opts.not_before:
        message.not_before = max(now, clock.from_ms(opts.not_before * 1000))
    if opts.labels:
        message.labels, message.label_index = opts.labels, label_index(opts.labels)
    if opts.headers:
        message.headers = {**message.headers, **opts.headers}
    if opts.method != "POST":  # POST is the default, so only another method is an override
        message.method = opts.method
