"""Run the whole server in one process: HTTP API, dispatcher and worker threads, on SQLite."""

from __future__ import annotations

from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import get_internal_wsgi_application

from ...conf import qstash_settings
from ...dev_http import serve
from ...devserver import export_lines, load_or_create
from ...dispatcher import Dispatcher


class Command(BaseCommand):
    help = "Run a local QStash-compatible server (API + dispatcher + in-process worker)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8080, help="port to listen on")
        parser.add_argument("--state-file", default="",
                            help="where the dev token is remembered between runs "
                                 "(default: next to the database)")
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")

    def handle(self, *args, **options):
        # The dev server is a laptop tool: threads instead of Celery, loopback allowed.
        settings.QSTASH = {**getattr(settings, "QSTASH", {}), "TRANSPORT": "inprocess",
                           "ALLOW_PRIVATE_DESTINATIONS": True}
        qstash_settings.reload()
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        credentials = load_or_create(self._state_file(options["state_file"]))
        url = f"http://{options['addr']}:{options['port']}"
        self.stdout.write("QStash dev server ready. Export these to point the SDKs at it:\n")
        for line in export_lines(url, credentials):
            self.stdout.write(line)
        self.stdout.flush()
        dispatcher = Dispatcher()
        dispatcher.start_thread()
        try:
            serve(options["addr"], options["port"], get_internal_wsgi_application())
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['addr']}:{options['port']}: {exc}")
        except KeyboardInterrupt:
            pass
        finally:
            dispatcher.stop()

    def _state_file(self, given: str) -> Path:
        if given:
            return Path(given)
        name = str(settings.DATABASES["default"].get("NAME") or "")
        base = Path(name).parent if name and name != ":memory:" else Path.cwd()
        return base / ".qstash_dev_credentials.json"
