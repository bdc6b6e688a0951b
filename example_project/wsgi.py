"""WSGI entry point for production servers (gunicorn, uwsgi, ...)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "example_project.settings")
application = get_wsgi_application()

from django_qstash.delivery.heap import freeze_startup_objects  # noqa: E402 - needs Django set up

freeze_startup_objects(load_urls=True)
