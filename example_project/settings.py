"""Settings for the example project, read from the environment (12-factor style)."""

import os
from importlib.util import find_spec
from pathlib import Path

from .database_url import parse_database_url

BASE_DIR = Path(__file__).resolve().parent.parent


def env_bool(name: str, default: bool = False) -> bool:
    return os.environ.get(name, str(default)).strip().lower() in ("1", "true", "yes", "on")


SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "insecure-dev-key-change-me-in-production")
DEBUG = env_bool("DJANGO_DEBUG", False)
# The names this site answers to, never "*": the receiver checks a token against the URL built
# from the request's Host, so any host would let a token signed for another site pass here.
LOCAL_HOSTS = ["localhost", "127.0.0.1", "[::1]"]
ALLOWED_HOSTS = LOCAL_HOSTS + [
    host.strip() for host in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if host.strip()]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "example_project.urls"
WSGI_APPLICATION = "example_project.wsgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_qstash",
]
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]
TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]
STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
# Every web process serves the admin's CSS and scripts itself (WhiteNoise): from STATIC_ROOT
# once `manage.py collectstatic` has filled it (production), else looked up in the installed
# apps at request time, so a fresh checkout's admin is styled too.
WHITENOISE_USE_FINDERS = WHITENOISE_AUTOREFRESH = not STATIC_ROOT.is_dir()

DATABASES = {
    "default": parse_database_url(
        os.environ.get("DATABASE_URL", f"sqlite:///{BASE_DIR / 'qstash.sqlite3'}")
    )
}

CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 4
CELERY_TASK_DEFAULT_QUEUE = "qstash"
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
if CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
    # Tasks carry only message ids and the database leases bring back whatever a lost task
    # held, so kombu's acknowledgement emulation (a Redis hash write and delete per task, in
    # the worker's main process) buys nothing here and cost more CPU than the delivery.
    CELERY_BROKER_TRANSPORT_OPTIONS = {"ack_emulation": False}
    CELERY_BROKER_TRANSPORT = "django_qstash.broker:Transport"  # kombu's, with a shared client

QSTASH = {
    # With a broker configured, deliveries go through Celery workers; otherwise threads.
    "TRANSPORT": os.environ.get("QSTASH_TRANSPORT", "celery" if CELERY_BROKER_URL else "inprocess"),
    "ALLOW_PRIVATE_DESTINATIONS": env_bool("QSTASH_ALLOW_PRIVATE_DESTINATIONS", False),
    "LEASE_GRACE_SECONDS": int(os.environ.get("QSTASH_LEASE_GRACE_SECONDS", "30")),
    "LEASE_PICKUP_SECONDS": int(os.environ.get("QSTASH_LEASE_PICKUP_SECONDS", "120")),
    "PUBLIC_URL": os.environ.get("QSTASH_PUBLIC_URL", ""),
    # The receiver's public URL behind a proxy (e.g. https://hooks.example.com); see README.
    "CANONICAL_BASE_URL": os.environ.get("QSTASH_CANONICAL_BASE_URL", ""),
    "METRICS_TOKEN": os.environ.get("QSTASH_METRICS_TOKEN", ""),
    "CELERY_QUEUE": os.environ.get("QSTASH_CELERY_QUEUE", "qstash"),
    "DELIVERY_BATCH_SIZE": int(os.environ.get("QSTASH_DELIVERY_BATCH_SIZE", "100")),
    "DELIVERY_CONCURRENCY": int(os.environ.get("QSTASH_DELIVERY_CONCURRENCY", "100")),
    "LOCAL_DELIVERY_LIMIT": int(os.environ.get("QSTASH_LOCAL_DELIVERY_LIMIT", "100")),
}

# Django's task API runs as deliveries of this server when the site knows the URL at which the
# delivery engine reaches it (on Django 5.2 through the django-tasks backport).
TASKS_BASE_URL = os.environ.get("QSTASH_TASKS_BASE_URL", "") or QSTASH["PUBLIC_URL"]
if find_spec("django_tasks") is not None:
    INSTALLED_APPS.append("django_tasks")
if TASKS_BASE_URL:
    TASKS = {
        "default": {
            "BACKEND": "django_qstash.tasks_backend.QStashTaskBackend",
            "QUEUES": [q.strip() for q in os.environ.get("QSTASH_TASKS_QUEUES", "default")
                       .split(",") if q.strip()],
            "OPTIONS": {"BASE_URL": TASKS_BASE_URL,
                        "TENANT": os.environ.get("QSTASH_TASKS_TENANT", "default"),
                        "DEFAULT_PARALLELISM": int(os.environ.get("QSTASH_TASKS_PARALLELISM",
                                                                  "4"))},
        }
    }
    if os.environ.get("QSTASH_TASKS_RETRIES"):
        TASKS["default"]["OPTIONS"]["RETRIES"] = int(os.environ["QSTASH_TASKS_RETRIES"])
    if os.environ.get("QSTASH_TASKS_RETRY_DELAY"):  # e.g. "pow(2, retried) * 1000" (ms)
        TASKS["default"]["OPTIONS"]["RETRY_DELAY"] = os.environ["QSTASH_TASKS_RETRY_DELAY"]

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    # Not propagated: Celery gives the root logger a handler of its own, and every state
    # change would be formatted and written twice.
    "loggers": {"django_qstash": {"handlers": ["console"], "propagate": False,
                                  "level": os.environ.get("QSTASH_LOG_LEVEL", "INFO")}},
}
