"""List, retry or delete DLQ entries from the shell, with filters; batches show progress."""

from __future__ import annotations

import json
from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError
from django.db.models import Q, QuerySet

from django_qstash.core import clock
from django_qstash.core.durations import DurationError, parse_duration
from django_qstash.delivery.transport import flush
from django_qstash.engine import observability
from django_qstash.engine.dlq_operations import delete_matching, retry_matching
from django_qstash.models import DlqEntry, Tenant

LIST_HEADER = ("DLQ ID", "TENANT", "MESSAGE ID", "URL", "QUEUE", "STATUS", "ERROR", "CREATED")
FILTERS = ("tenant", "queue", "url_prefix", "url_group", "label", "response_status", "dlq_id",
           "message_id", "older_than", "newer_than")


def duration(text: str) -> timedelta:
    try:
        return timedelta(seconds=parse_duration(text))
    except DurationError as exc:
        raise CommandError(str(exc)) from None


class Command(BaseCommand):
    help = ("Work on the dead-letter queue: 'list' shows entries, 'retry' publishes them again "
            "as new messages, 'delete' drops them. retry and delete need a filter or --all.")

    def add_arguments(self, parser):
        parser.add_argument("action", choices=["list", "retry", "delete"])
        parser.add_argument("--tenant", help="tenant name")
        parser.add_argument("--queue", help="queue name ('' for messages in no queue)")
        parser.add_argument("--url-prefix", help="destination URL starts with this")
        parser.add_argument("--url-group", help="URL group name")
        parser.add_argument("--label", help="message label")
        parser.add_argument("--response-status", type=int, help="last HTTP status (0 = none)")
        parser.add_argument("--dlq-id", action="append", help="a DLQ id (repeatable)")
        parser.add_argument("--message-id", action="append", help="a message id (repeatable)")
        parser.add_argument("--older-than", help="entries older than this, e.g. 2h or 7d")
        parser.add_argument("--newer-than", help="entries newer than this, e.g. 30m")
        parser.add_argument("--all", action="store_true",
                            help="retry/delete: allow acting on every entry (no filter)")
        parser.add_argument("--limit", type=int, default=None,
                            help="act on / list at most this many (list: default 50)")
        parser.add_argument("--dry-run", action="store_true", help="count, change nothing")
        parser.add_argument("--json", action="store_true", help="list: one JSON object a line")

    def handle(self, *args, **options):
        entries = self.filtered(options)
        given = any(options[f] is not None for f in FILTERS)
        if options["limit"] is not None and options["limit"] < 1:
            raise CommandError("--limit must be at least 1")
        if options["action"] == "list":
            return self.list(entries, options)
        if not given and not options["all"]:
            raise CommandError(f"{options['action']} needs a filter, or --all for every entry")
        total = entries.count()
        if options["limit"] is not None:
            total = min(total, options["limit"])
        if options["dry_run"]:
            self.stdout.write(f"would {options['action']} {total} DLQ entries")
            return
        report = self.progress(options["action"], total)
        if options["action"] == "retry":
            done = len(retry_matching(entries, limit=options["limit"], progress=report))
            flush()  # the new messages are with the broker before the command returns
        else:
            done = delete_matching(entries, limit=options["limit"], progress=report)
        observability.operator_action("shell", f"dlq_{options['action']}", count=done)
        verb = "retried" if options["action"] == "retry" else "deleted"
        self.stdout.write(self.style.SUCCESS(f"{verb} {done} DLQ entries"))

    def filtered(self, options) -> QuerySet:
        entries = DlqEntry.objects.all()
        if options["tenant"] is not None:
            tenant = Tenant.objects.filter(name=options["tenant"]).first()
            if tenant is None:
                raise CommandError(f"unknown tenant {options['tenant']!r}")
            entries = entries.filter(tenant=tenant)
        lookups = {"queue": "message__queue_name", "url_group": "message__topic_name",
                   "url_prefix": "message__url__startswith",
                   "response_status": "response_status", "dlq_id": "dlq_id__in",
                   "message_id": "message_id__in"}
        for option, lookup in lookups.items():
            if options[option] is not None:
                entries = entries.filter(**{lookup: options[option]})
        if options["label"] is not None:
            entries = entries.filter(Q(message__label_index__contains=f",{options['label']},"))
        now = clock.now()
        if options["older_than"]:
            entries = entries.filter(created_at__lt=now - duration(options["older_than"]))
        if options["newer_than"]:
            entries = entries.filter(created_at__gte=now - duration(options["newer_than"]))
        return entries

    def list(self, entries: QuerySet, options) -> None:
        rows = list(entries.select_related("tenant", "message")
                    .defer("response_body", "message__body").order_by("-pk")[: options["limit"] or 50])
        if not options["json"]:
            # --json stays one object a line (nothing when empty), for scripts.
            self.stdout.write("\t".join(LIST_HEADER) if rows else "no DLQ entries")
        for entry in rows:
            data = {"dlqId": entry.dlq_id, "tenant": entry.tenant.name,
                    "messageId": entry.message_id, "url": entry.message.url,
                    "queue": entry.message.queue_name, "responseStatus": entry.response_status,
                    "error": entry.error, "createdAt": entry.created_at.isoformat()}
            if options["json"]:
                self.stdout.write(json.dumps(data))
            else:
                self.stdout.write("\t".join(str(v) for v in data.values()))

    def progress(self, action: str, total: int):
        def report(done: int) -> None:
            self.stderr.write(f"{action}: {done}/{total}")
        return report
