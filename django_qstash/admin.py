"""Django admin for every resource: schedules here, the rest in admins/ (one module each)."""

from __future__ import annotations

from django.contrib import admin

from . import admins  # noqa: F401  registers messages, DLQ, queues, URL groups, keys, tokens …
from .models import Schedule
from .schedule_admin import ScheduleAdminMixin


@admin.register(Schedule)
class ScheduleAdmin(ScheduleAdminMixin, admin.ModelAdmin):
    """Validated cron and zone, next-run preview, recent messages, pause/resume/run now."""
