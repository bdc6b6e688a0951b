"""WSGI entry point of the plain-Celery web side (benchmarks.suite.baseline_web)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchmarks.suite.baseline_web")
application = get_wsgi_application()
