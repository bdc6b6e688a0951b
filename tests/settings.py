"""Django settings for the test suite: SQLite file by default, any DATABASE_URL when set."""

import os
from pathlib import Path

from example_project.database_url import parse_database_url

# The app list, middleware and templates are the example project's: tests run what users run.
from example_project.settings import INSTALLED_APPS, MIDDLEWARE, STATIC_URL, TEMPLATES  # noqa: F401

# Less WhiteNoise: a sync-only middleware turns every middleware outside it synchronous, and
# the receiver's ASGI tests check the async path. The example project's own static files are
# tested through it (tests/onboarding/test_dev_server_first_use.py).
MIDDLEWARE = [name for name in MIDDLEWARE if not name.startswith("whitenoise.")]

BASE_DIR = Path(__file__).resolve().parent
SECRET_KEY = "test-secret-key-not-for-production"
DEBUG = False
ALLOWED_HOSTS = ["*"]
USE_TZ = True
TIME_ZONE = "UTC"
ROOT_URLCONF = "tests.urls"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"


_test_db_url = os.environ.get("QSTASH_TEST_DATABASE_URL", "")
if _test_db_url:
    DATABASES = {"default": parse_database_url(_test_db_url)}
    if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        # Transactional tests flush with DELETE instead of TRUNCATE (tests/support/postgres_backend).
        DATABASES["default"]["ENGINE"] = "tests.support.postgres_backend"
    # Worker threads close their connection after each message, so teardown can drop the DB.
    DATABASES["default"]["CONN_MAX_AGE"] = 0
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(BASE_DIR / "test.sqlite3"),
            # No fsync per commit: the tests kill processes, never the machine, and Django
            # commits each flush between transactional tests and every worker thread's write.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE",
                        "init_command": "PRAGMA synchronous=OFF"},
            # A file (not :memory:) so worker threads share the database.
            # Per process, so that concurrent test runs on one machine never share a file.
            "TEST": {"NAME": str(BASE_DIR / f"test_db_{os.getpid()}.sqlite3")},
        }
    }

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
# Admin users are made for many tests: PBKDF2's deliberate slowness would cost seconds each run.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

QSTASH = {
    "TRANSPORT": "inprocess",
    "ALLOW_PRIVATE_DESTINATIONS": True,
    "DISPATCH_INTERVAL_SECONDS": 0.05,
}

# Django's task API on this server; tests point BASE_URL at their live server.
TASKS = {
    "default": {
        "BACKEND": "django_qstash.tasks_backend.QStashTaskBackend",
        "QUEUES": ["default", "emails"],
        "OPTIONS": {"BASE_URL": "http://testserver", "TENANT": "tests"},
    }
}
