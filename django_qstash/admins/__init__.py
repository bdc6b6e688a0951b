"""Admin pages for every resource but schedules (admin.py keeps those): importing registers."""

from ..tasks_backend import admin as task_admin  # noqa: F401  (task results)
from . import dlq, events, messages, overview, queues, tenancy, url_groups  # noqa: F401
