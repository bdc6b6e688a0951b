"""Django admin for every resource, one module each; importing this package registers them."""

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

    from django_qstash.admin import (  # noqa: F401  importing registers each resource's admin
        dlq,
        events,
        messages,
        overview,
        queues,
        schedules,
        task_results,
        tenancy,
        url_groups,
        workflow_runs,
    )

    # Say what this admin is, unless the project has named its site itself.
    if admin.site.site_header == admin.AdminSite.site_header:
        admin.site.site_header = "QStash server administration"
    if admin.site.site_title == admin.AdminSite.site_title:
        admin.site.site_title = "QStash server"
