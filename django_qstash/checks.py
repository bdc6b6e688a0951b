"""System checks for the server settings (receiver checks live in receiver/checks.py)."""

from __future__ import annotations

import difflib
import math
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from django.apps import apps
from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register

from django_qstash.conf import DEFAULTS, qstash_settings
from django_qstash.core.url_views import dotted_name, is_api_view, url_views
from django_qstash.db.sqlite_writes import BUSY_TIMEOUT_SECONDS, defers_writes

TRANSPORTS = ("inprocess", "celery")
# Checked by receiver/checks.py (E101–E108), which also runs without the server's dependencies.
RECEIVER_KEYS = frozenset({"CURRENT_SIGNING_KEY", "NEXT_SIGNING_KEY", "CLOCK_TOLERANCE_SECONDS",
                           "CANONICAL_BASE_URL", "PROTECTED_PATHS", "REPLAY_PROTECTION",
                           "REPLAY_CACHE_ALIAS", "LOCAL_TENANT"})


@dataclass(frozen=True)
class Rule:
    """What one setting must be: ``expected`` completes "QSTASH[key] must be ..."."""

    expected: str
    accepts: Callable[[Any], bool]
    id: str


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)  # True is an int to Python


def _number(value: Any) -> bool:
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


def _http_url(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    if not value:
        return True
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


POSITIVE_INTEGER = Rule("a positive integer", lambda v: _integer(v) and v >= 1,
                        "django_qstash.E002")
COUNT = Rule("an integer, 0 or more (0 turns it off)", lambda v: _integer(v) and v >= 0,
             "django_qstash.E005")
INTERVAL = Rule("a number of seconds above 0", lambda v: _number(v) and v > 0,
                "django_qstash.E006")
SECONDS = Rule("a number of seconds, 0 or more", lambda v: _number(v) and v >= 0,
               "django_qstash.E007")
BOOLEAN = Rule("True or False", lambda v: isinstance(v, bool), "django_qstash.E008")
TEXT = Rule("a string", lambda v: isinstance(v, str), "django_qstash.E009")
NAME = Rule("a non-empty string", lambda v: isinstance(v, str) and bool(v.strip()),
            "django_qstash.E009")
RETENTION = Rule("a number of seconds, 0 or more, or None to keep forever",
                 lambda v: v is None or (_number(v) and v >= 0), "django_qstash.E010")
HTTP_URL = Rule("an http(s) URL such as 'https://qstash.example.com', or ''", _http_url,
                "django_qstash.E011")
HOSTS_AND_NETWORKS = Rule(
    "a list of host names ('hooks.internal', '*.svc.local') and networks ('10.0.0.0/8')",
    lambda v: isinstance(v, (list, tuple)) and all(isinstance(e, str) and e.strip() for e in v),
    "django_qstash.E012")
SHARE = Rule("a positive integer, or None for the default share",
              lambda v: v is None or (_integer(v) and v >= 1), "django_qstash.E002")
TRANSPORT = Rule(", ".join(map(repr, TRANSPORTS)) + " or the dotted path of a transport class",
                 lambda v: v in TRANSPORTS or (isinstance(v, str) and "." in v.strip(".")),
                 "django_qstash.E001")

RULES: dict[str, Rule] = {
    "MAX_BODY_BYTES": POSITIVE_INTEGER, "DEFAULT_RETRIES": COUNT, "MAX_RETRIES": POSITIVE_INTEGER,
    "DEFAULT_TIMEOUT_SECONDS": POSITIVE_INTEGER, "MAX_TIMEOUT_SECONDS": POSITIVE_INTEGER,
    "MAX_DELAY_SECONDS": POSITIVE_INTEGER, "MAX_BATCH_SIZE": POSITIVE_INTEGER,
    "MAX_RESPONSE_BODY_BYTES": COUNT, "WORKFLOW_INLINE_HISTORY_BYTES": COUNT,
    "MAX_HEADER_COUNT": POSITIVE_INTEGER,
    "MAX_HEADER_BYTES": POSITIVE_INTEGER, "API_BURST_RATE_LIMIT": COUNT,
    "DAILY_MESSAGE_QUOTA": COUNT, "RATE_LIMIT_CACHE_ALIAS": NAME, "TOKEN_CACHE_SECONDS": SECONDS,
    "GROUP_COMMIT": BOOLEAN, "DELIVERED_RETENTION_SECONDS": SECONDS,
    "DEDUPLICATION_WINDOW_SECONDS": POSITIVE_INTEGER, "TRANSPORT": TRANSPORT,
    "INPROCESS_WORKERS": POSITIVE_INTEGER, "LOCAL_DELIVERY_LIMIT": COUNT,
    "LEASE_GRACE_SECONDS": SECONDS,
    "LEASE_PICKUP_SECONDS": SECONDS, "DISPATCH_BATCH_SIZE": POSITIVE_INTEGER,
    "CLAIM_AHEAD_SECONDS": SECONDS, "MAX_IN_FLIGHT": POSITIVE_INTEGER,
    "GLOBAL_PARALLELISM": COUNT, "DISPATCH_INTERVAL_SECONDS": INTERVAL, "CELERY_QUEUE": NAME,
    "DELIVERY_BATCH_SIZE": POSITIVE_INTEGER, "DELIVERY_CONCURRENCY": POSITIVE_INTEGER,
    "FREEZE_STARTUP_HEAP": BOOLEAN, "ALLOW_PRIVATE_DESTINATIONS": BOOLEAN,
    "ALLOWED_DESTINATIONS": HOSTS_AND_NETWORKS, "PUBLIC_URL": HTTP_URL,
    "MESSAGE_RETENTION_SECONDS": RETENTION, "EVENT_RETENTION_SECONDS": RETENTION,
    "DLQ_RETENTION_SECONDS": RETENTION, "PURGE_BATCH_SIZE": POSITIVE_INTEGER,
    "PURGE_INTERVAL_SECONDS": SECONDS, "METRICS_TOKEN": TEXT, "CLIENT_URL": HTTP_URL,
    "CLIENT_TOKEN": TEXT, "MAX_URL_GROUP_ENDPOINTS": POSITIVE_INTEGER,
    "MAX_LIST_RESPONSE_BYTES": POSITIVE_INTEGER, "METRICS_PUBLIC": BOOLEAN,
    "DELIVERY_CONCURRENCY_PER_TENANT": SHARE, "DELIVERY_CONCURRENCY_PER_HOST": SHARE,
    "MAX_IN_FLIGHT_PER_TENANT": SHARE,
}


def _check_transport(name: str) -> list[CheckMessage]:
    from django_qstash.delivery.transport import CeleryTransport, transport_class

    try:
        found = transport_class(name)
    except Exception as exc:  # noqa: BLE001  whatever importing it raised, the check reports
        return [Error(f"QSTASH['TRANSPORT'] is {name!r}, which cannot be imported: {exc}",
                      hint="A dotted path such as 'myproject.transports.MyTransport'.",
                      id="django_qstash.E016")]
    if not isinstance(found, type) or not callable(getattr(found, "submit", None)):
        return [Error(f"QSTASH['TRANSPORT'] is {name!r}, which is not a transport class "
                      "(a class with a submit(items) method)", id="django_qstash.E016")]
    return _check_celery() if issubclass(found, CeleryTransport) else []


@register()
def check_server_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    given = getattr(settings, "QSTASH", None)
    if given is not None and not isinstance(given, Mapping):
        return [Error(f"QSTASH must be a dict of settings, got {type(given).__name__}",
                      id="django_qstash.E015")]
    messages = _unknown_keys(given or {})
    wrong = set()
    for name, rule in RULES.items():
        value = getattr(qstash_settings, name)
        if not rule.accepts(value):
            wrong.add(name)
            messages.append(Error(f"QSTASH[{name!r}] must be {rule.expected}, got {value!r}",
                                  id=rule.id))
    # Comparisons between settings only once both sides are the right type.
    if not wrong & {"DEFAULT_RETRIES", "MAX_RETRIES"} \
            and qstash_settings.DEFAULT_RETRIES > qstash_settings.MAX_RETRIES:
        messages.append(Error("QSTASH['DEFAULT_RETRIES'] must be between 0 and MAX_RETRIES",
                              id="django_qstash.E003"))
    if not wrong & {"DEFAULT_TIMEOUT_SECONDS", "MAX_TIMEOUT_SECONDS"} \
            and qstash_settings.DEFAULT_TIMEOUT_SECONDS > qstash_settings.MAX_TIMEOUT_SECONDS:
        messages.append(Error("QSTASH['DEFAULT_TIMEOUT_SECONDS'] exceeds MAX_TIMEOUT_SECONDS",
                              id="django_qstash.E004"))
    if "TRANSPORT" not in wrong:
        messages += _check_transport(qstash_settings.TRANSPORT)
    if "RATE_LIMIT_CACHE_ALIAS" not in wrong:
        messages += _check_rate_limit_cache()
    # Only a site that runs the server (its API needs DRF) writes from several threads.
    if apps.is_installed("rest_framework"):
        messages += sqlite_write_warnings(settings.DATABASES)
    return messages


def sqlite_write_warnings(databases: Mapping) -> list[CheckMessage]:
    return [Warning(
        f"DATABASES[{alias!r}] is SQLite with deferred transactions: when the API, the "
        "dispatcher and the delivery threads write at once, some fail with 'database is "
        "locked' (answered 503) instead of waiting",
        hint=f"Set DATABASES[{alias!r}]['OPTIONS'] = {{'transaction_mode': 'IMMEDIATE', "
             f"'timeout': {BUSY_TIMEOUT_SECONDS}}} (qstash_dev sets it for its own process).",
        id="django_qstash.W003")
        for alias, database in databases.items() if defers_writes(database)]


def _unknown_keys(given: Mapping) -> list[CheckMessage]:
    warnings: list[CheckMessage] = []
    for key in given:
        if key in DEFAULTS:
            continue
        close = difflib.get_close_matches(str(key), DEFAULTS, n=1)
        warnings.append(Warning(
            f"QSTASH[{key!r}] is not a setting of django_qstash and is ignored",
            hint=f"Did you mean {close[0]!r}?" if close else "See django_qstash/conf.py for "
                                                              "every setting.",
            id="django_qstash.W001"))
    return warnings


def _check_celery() -> list[CheckMessage]:
    try:
        from celery import current_app
    except ImportError:
        return [Error("QSTASH['TRANSPORT'] is 'celery' but Celery is not installed",
                      hint="pip install 'django-qstash-server[server]'", id="django_qstash.E013")]
    # What the transport's tasks are sent with: the Celery app in use (configured from
    # CELERY_BROKER_URL in settings or the environment, or in code).
    if not current_app.conf.broker_url:
        return [_broker_missing()]
    return _check_metrics_processes()


def _check_metrics_processes() -> list[CheckMessage]:
    # Deliveries are counted in the Celery workers, publishes in the web processes: without
    # the shared directory each scrape shows whichever process answered it.
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return []
    return [Warning(
        "QSTASH['TRANSPORT'] is 'celery' but PROMETHEUS_MULTIPROC_DIR is not set: /metrics "
        "would count only what the process answering each scrape saw",
        hint="Set PROMETHEUS_MULTIPROC_DIR to one empty, writable directory in the environment "
             "of every web, worker and dispatcher process (emptied before they start).",
        id="django_qstash.W002")]


def _broker_missing() -> CheckMessage:
    return Error(
        "QSTASH['TRANSPORT'] is 'celery' but no Celery broker is configured: messages "
        "would never reach a worker",
        hint="Set CELERY_BROKER_URL (e.g. 'redis://localhost:6379/0') in the settings or "
             "the environment, and load your Celery app when Django starts.",
        id="django_qstash.E013")


def _check_rate_limit_cache() -> list[CheckMessage]:
    limited = [name for name in ("API_BURST_RATE_LIMIT", "DAILY_MESSAGE_QUOTA")
               if _integer(getattr(qstash_settings, name)) and getattr(qstash_settings, name) > 0]
    alias = qstash_settings.RATE_LIMIT_CACHE_ALIAS
    if limited and alias not in settings.CACHES:
        return [Error(f"QSTASH['RATE_LIMIT_CACHE_ALIAS'] {alias!r} is not in CACHES, and "
                      f"{' and '.join(limited)} counts in it",
                      id="django_qstash.E014")]
    return []


API_400_HANDLER = "django_qstash.api.errors.bad_request"


@register(Tags.urls)
def check_api_error_handler(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """The API mounted in a URLconf whose handler400 is Django's HTML page: requests Django
    refuses before any view (a Host header it does not accept) would answer the SDKs HTML."""
    from django.urls import get_resolver

    try:
        resolver = get_resolver()
        mounted = any(is_api_view(view) for view in url_views(resolver.url_patterns))
        handler = resolver.resolve_error_handler(400)
    except Exception:  # noqa: BLE001 — a broken URLconf is reported by Django's own checks
        return []
    if not mounted or dotted_name(handler) == API_400_HANDLER:
        return []
    return [Warning(
        "The QStash API is mounted, but the URLconf's handler400 is not the API's: a request "
        "Django refuses before any view runs (a Host header it does not accept) gets an HTML "
        "page where the QStash clients expect {\"error\": ...}.",
        hint=f'In the root URLconf: handler400 = "{API_400_HANDLER}" (it keeps Django\'s page '
             "outside the API).",
        id="django_qstash.W004")]
