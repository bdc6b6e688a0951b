"""Run the dispatcher: claims due messages and hands them to Celery workers. Run one or many."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from ...dispatcher import Dispatcher


class Command(BaseCommand):
    help = "Claim due messages from the database and submit them to the configured transport."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run a single tick and exit")
        parser.add_argument("--interval", type=float, default=None,
                            help="seconds to sleep when idle (default from settings)")
        parser.add_argument("--batch-size", type=int, default=None,
                            help="messages claimed per query (default from settings)")

    def handle(self, *args, **options):
        dispatcher = Dispatcher(batch_size=options["batch_size"], interval=options["interval"])
        if options["once"]:
            self.stdout.write(f"claimed {dispatcher.tick()} messages")
            return
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_: dispatcher.stop())
        dispatcher.run()
