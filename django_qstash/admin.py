"""Django admin for every resource: schedules here, the rest in admins/ (one module each)."""

from __future__ import annotations

from importlib.util import find_spec

# Receiver-only installs (Django + PyJWT) may list django_qstash next to django.contrib.admin;
# admin autodiscovery must not then import the server's dependencies.


def _importable(name: str) -> bool:
    try:
        return find_spec(name) is not None
    except (ImportError, ValueError, AttributeError):  # e.g. blocked via sys.modules[name]=None
        return False


SERVER_INSTALLED = all(_importable(name) for name in ("rest_framework", "croniter", "aiohttp"))

if SERVER_INSTALLED:
    from django.contrib import admin

    from . import admins  # noqa: F401  registers messages, DLQ, queues, URL groups, keys, …
    from .admins.base import TenantScopedAdmin
    from .models import Schedule
    from .schedule_admin import ScheduleAdminMixin

    # Say what this admin is, unless the project has named its site itself.
    if admin.site.site_header == admin.AdminSite.site_header:
        admin.site.site_header = "QStash server administration"
    if admin.site.site_title == admin.AdminSite.site_title:
        admin.site.site_title = "QStash server"

    @admin.register(Schedule)
    class ScheduleAdmin(ScheduleAdminMixin, TenantScopedAdmin):
        """Validated cron and zone, next-run preview, recent messages, pause/resume/run now."""
