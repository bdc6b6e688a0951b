"""Run the dispatcher: claims due messages and hands them to Celery workers. Run one or many."""

from __future__ import annotations

import signal

from django.core.management.base import BaseCommand

from django_qstash.conf import qstash_settings
from django_qstash.delivery.heap import freeze_startup_objects
from django_qstash.delivery.runtime import current
from django_qstash.engine.dispatcher import Dispatcher
from django_qstash.engine.retention import PeriodicPurge


class Command(BaseCommand):
    help = "Claim due messages from the database and submit them to the configured transport."

    def add_arguments(self, parser):
        parser.add_argument("--once", action="store_true", help="run a single tick and exit")
        parser.add_argument("--interval", type=float, default=None,
                            help="seconds to sleep when idle (default from settings)")
        parser.add_argument("--batch-size", type=int, default=None,
                            help="messages claimed per query (default from settings)")
        parser.add_argument("--purge-every", type=float, default=None, metavar="SECONDS",
                            help="also run retention (qstash_purge) this often; 0 = never "
                                 "(default PURGE_INTERVAL_SECONDS)")

    def handle(self, *args, **options):
        dispatcher = dispatcher_for(options)
        runtime = current().start()
        try:
            if options["once"]:
                self.stdout.write(f"claimed {dispatcher.tick()} messages")
                return
            for sig in (signal.SIGTERM, signal.SIGINT):
                signal.signal(sig, lambda *_: dispatcher.stop())
            freeze_startup_objects()
            dispatcher.run()
        finally:
            # Messages its schedules published are with the broker (in-process: sent and
            # recorded) before it returns.
            runtime.stop()
            runtime.join()


def dispatcher_for(options: dict) -> Dispatcher:
    """The dispatcher's every tick (schedules, rollups, workflow waits), plus retention."""
    purge_every = options["purge_every"]
    if purge_every is None:
        purge_every = qstash_settings.PURGE_INTERVAL_SECONDS
    extra = (PeriodicPurge(purge_every),) if purge_every > 0 else ()
    return Dispatcher(batch_size=options["batch_size"], interval=options["interval"],
                      extra_tick_hooks=extra)
