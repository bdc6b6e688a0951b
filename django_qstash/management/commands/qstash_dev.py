"""Run the whole server in one process: HTTP API, dispatcher and worker threads, on SQLite."""

from __future__ import annotations

from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.staticfiles.handlers import StaticFilesHandler
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.core.servers.basehttp import get_internal_wsgi_application

from django_qstash.conf import qstash_settings
from django_qstash.db.sqlite_writes import begin_writes_immediately
from django_qstash.delivery.runtime import current
from django_qstash.devserver.admin_login import ensure_admin_login, remembered
from django_qstash.devserver.credentials import export_lines, load_or_create
from django_qstash.devserver.http import serve
from django_qstash.engine.dispatcher import Dispatcher


class Command(BaseCommand):
    help = "Run a local QStash-compatible server (API + dispatcher + in-process worker)."

    def add_arguments(self, parser):
        parser.add_argument("--addr", default="127.0.0.1", help="address to listen on")
        parser.add_argument("--port", type=int, default=8080, help="port to listen on")
        parser.add_argument("--state-file", default="",
                            help="where the dev token is remembered between runs "
                                 "(default: next to the database)")
        parser.add_argument("--no-migrate", action="store_true", help="skip applying migrations")
        parser.add_argument("--admin", action="store_true",
                            help="create a superuser for /admin/ and print its login (remembered "
                                 "in the state file and printed on every later start)")

    def handle(self, *args, **options):
        # The dev server is a laptop tool: threads instead of Celery, loopback allowed.
        settings.QSTASH = {**getattr(settings, "QSTASH", {}), "TRANSPORT": "inprocess",
                           "ALLOW_PRIVATE_DESTINATIONS": True}
        qstash_settings.reload()
        # API, dispatcher and delivery threads all write: on SQLite they must queue for the
        # lock, not fail with "database is locked" (a project's own settings rarely say so).
        begin_writes_immediately()
        if not options["no_migrate"]:
            call_command("migrate", interactive=False, verbosity=0)
        state_file = self._state_file(options["state_file"])
        credentials = load_or_create(state_file)
        admin = ensure_admin_login(state_file) \
            if options["admin"] or remembered(state_file) else None
        dispatcher = Dispatcher()
        runtime = current().start()

        def ready(port: int) -> None:
            # Called once the port is bound: a busy port fails before anything says "ready".
            url = f"http://{options['addr']}:{port}"
            self.stdout.write("QStash dev server ready. Export these to point the SDKs at it:\n")
            for line in export_lines(url, credentials):
                self.stdout.write(line)
            if admin is not None:
                self.stdout.write(f"# Admin: {url}/admin/  user: {admin.username}  "
                                  f"password: {admin.password}")
            else:
                self.stdout.write(f"# Admin: {url}/admin/ (start with --admin for a login)")
            self.stdout.flush()
            dispatcher.start_thread()

        application = get_internal_wsgi_application()
        if apps.is_installed("django.contrib.staticfiles"):
            # As runserver does: the admin's CSS and scripts, straight from the apps.
            application = StaticFilesHandler(application)
        try:
            serve(options["addr"], options["port"], application, on_bind=ready)
        except OSError as exc:
            raise CommandError(f"cannot listen on {options['addr']}:{options['port']}: {exc}")
        except KeyboardInterrupt:
            pass
        finally:
            dispatcher.stop()
            runtime.stop()  # what was accepted is sent and recorded, then the session closes
            runtime.join()

    def _state_file(self, given: str) -> Path:
        if given:
            return Path(given)
        name = str(settings.DATABASES["default"].get("NAME") or "")
        base = Path(name).parent if name and name != ":memory:" else Path.cwd()
        return base / ".qstash_dev_credentials.json"
