"""Retention: delete finished messages, events and DLQ entries older than their ages."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from django_qstash.core.durations import DurationError, parse_duration
from django_qstash.engine import observability
from django_qstash.engine.retention import KINDS, Policy, purge


def seconds(text: str | None, option: str) -> int | None:
    if text is None:
        return None
    try:
        return parse_duration(text)
    except DurationError as exc:
        raise CommandError(f"{option}: {exc}") from None


class Command(BaseCommand):
    help = ("Delete finished messages (delivered, canceled, failed and out of the DLQ), events, "
            "DLQ entries (with their failed messages) and expired deduplication records older "
            "than the QSTASH retention settings, in small batches. Run it from cron, or set "
            "PURGE_INTERVAL_SECONDS to let qstash_dispatcher do it.")

    def add_arguments(self, parser):
        parser.add_argument("--messages-older-than", metavar="AGE",
                            help="e.g. 2h, 7d (default MESSAGE_RETENTION_SECONDS)")
        parser.add_argument("--events-older-than", metavar="AGE",
                            help="default EVENT_RETENTION_SECONDS")
        parser.add_argument("--dlq-older-than", metavar="AGE",
                            help="default DLQ_RETENTION_SECONDS")
        parser.add_argument("--only", action="append", choices=KINDS,
                            help="purge only this kind (repeatable)")
        parser.add_argument("--batch-size", type=int, default=None,
                            help="rows per DELETE (default PURGE_BATCH_SIZE)")
        parser.add_argument("--max-batches", type=int, default=None,
                            help="stop each kind after this many batches")

    def handle(self, *args, **options):
        if options["batch_size"] is not None and options["batch_size"] < 1:
            raise CommandError("--batch-size must be at least 1")
        policy = Policy.from_settings(
            messages=seconds(options["messages_older_than"], "--messages-older-than"),
            events=seconds(options["events_older_than"], "--events-older-than"),
            dlq=seconds(options["dlq_older_than"], "--dlq-older-than"),
            batch_size=options["batch_size"])
        kinds = tuple(options["only"] or KINDS)
        totals = purge(policy, kinds=kinds, max_batches=options["max_batches"],
                       progress=lambda kind, done: self.stderr.write(f"{kind}: {done} deleted"))
        observability.operator_action("shell", "purge", **totals)
        self.stdout.write(" ".join(f"{kind}={count}" for kind, count in totals.items()))
