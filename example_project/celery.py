"""Celery application for production mode: workers deliver messages claimed by the dispatcher."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")

app = Celery("example_project")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["django_qstash"])
# Celery's Django fixup closes every database connection before and after each task unless
# this is set; reconnecting per task cost more CPU than the task itself. Connections are
# still recycled after this many tasks, and django_qstash drops broken ones after each batch.
app.conf.CELERY_DB_REUSE_MAX = 1000
