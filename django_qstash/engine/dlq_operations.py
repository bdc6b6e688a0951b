"""Operator DLQ work for the admin and the shell: bounded batch retry/delete, edit-and-retry."""

from __future__ import annotations

from collections.abc import Callable

from django.db import transaction
from django.db.models import QuerySet

from django_qstash.core.header_names import check_header, forward_map, forwardable_map
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.dlq_retry import retry_entries
from django_qstash.exceptions import InvalidHeader
from django_qstash.models import DlqEntry, Message

# Retrying copies whole messages (bodies up to 1 MB): keep a batch modest in memory.
BATCH_SIZE = 200
Progress = Callable[[int], None]


def retry_matching(entries: QuerySet, *, limit: int | None = None,
                   batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> list[str]:
    """Retry entries of ``entries`` a batch at a time (each its own transaction), oldest
    first, at most ``limit``; returns the new message ids."""
    new_ids: list[str] = []
    last_pk = 0
    while limit is None or len(new_ids) < limit:
        size = batch_size if limit is None else min(batch_size, limit - len(new_ids))
        # Keyset paging on the primary key: retried entries are deleted, but a batch whose
        # retry failed must not be picked up again forever.
        batch = list(entries.filter(pk__gt=last_pk).select_related("message")
                     .order_by("pk")[:size])
        if not batch:
            break
        last_pk = batch[-1].pk
        new_ids += retry_entries(batch)
        if progress:
            progress(len(new_ids))
    return new_ids


def delete_matching(entries: QuerySet, *, limit: int | None = None,
                    batch_size: int = BATCH_SIZE, progress: Progress | None = None) -> int:
    """Delete entries (their failed messages stay until qstash_purge) in bounded batches."""
    deleted = 0
    while limit is None or deleted < limit:
        size = batch_size if limit is None else min(batch_size, limit - deleted)
        pks = list(entries.order_by("pk").values_list("pk", flat=True)[:size])
        if not pks:
            break
        deleted += remove_entries(DlqEntry.objects.filter(pk__in=pks))
        if progress:
            progress(deleted)
    return deleted


def parse_header_lines(text: str) -> dict[str, list[str]]:
    """``Name: value`` per line -> the stored header map, hop-by-hop and server-set headers
    left out as on publish; raises ValueError on a bad line."""
    pairs: list[tuple[str, str]] = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        name, sep, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if not sep or not name:
            raise ValueError(f"line {number}: write headers as 'Name: value'")
        try:
            check_header(name, value)
        except InvalidHeader as exc:
            raise ValueError(f"line {number}: {exc.message}") from None
        pairs.append((name, value))
    return forward_map(pairs)


def header_lines(headers: dict[str, list[str]]) -> str:
    return "\n".join(f"{name}: {value}" for name, values in headers.items() for value in values)


def retry_edited(entry: DlqEntry, *, headers: dict[str, list[str]], body: bytes,
                 retries: int | None = None) -> str:
    """Retry with new destination headers and body; the failed original stays as it was."""
    with transaction.atomic():
        [new_id] = retry_entries([entry])
        changes: dict = {"headers": forwardable_map(headers), "body": body}
        if retries is not None:
            changes["max_retries"] = retries
        # Same transaction: the fast path hands the message to a worker only on commit.
        Message.objects.filter(pk=new_id).update(**changes)
    return new_id
