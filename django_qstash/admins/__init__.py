"""Admin pages for every resource but schedules (admin.py keeps those): importing registers."""

from . import dlq, events, messages, queues, tenancy, url_groups  # noqa: F401
