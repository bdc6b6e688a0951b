"""System checks for the server settings (receiver checks live in receiver/checks.py)."""

from __future__ import annotations

from django.core.checks import Error, register

from .conf import qstash_settings

POSITIVE_INTEGERS = ("MAX_BODY_BYTES", "MAX_RETRIES", "DEFAULT_TIMEOUT_SECONDS",
                     "MAX_TIMEOUT_SECONDS", "MAX_DELAY_SECONDS", "MAX_BATCH_SIZE",
                     "INPROCESS_WORKERS", "DISPATCH_BATCH_SIZE", "DEDUPLICATION_WINDOW_SECONDS")


@register()
def check_server_settings(app_configs=None, **kwargs):
    errors = []
    if qstash_settings.TRANSPORT not in ("inprocess", "celery"):
        errors.append(Error(f"QSTASH['TRANSPORT'] must be 'inprocess' or 'celery', "
                            f"not {qstash_settings.TRANSPORT!r}", id="django_qstash.E001"))
    for name in POSITIVE_INTEGERS:
        value = getattr(qstash_settings, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            errors.append(Error(f"QSTASH[{name!r}] must be a positive integer, got {value!r}",
                                id="django_qstash.E002"))
    for name in ("DELIVERY_CONCURRENCY_PER_TENANT", "DELIVERY_CONCURRENCY_PER_HOST",
                 "MAX_IN_FLIGHT_PER_TENANT"):
        value = getattr(qstash_settings, name)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)
                                  or value < 1):
            errors.append(Error(f"QSTASH[{name!r}] must be a positive integer or None, "
                                f"got {value!r}", id="django_qstash.E002"))
    default_retries = qstash_settings.DEFAULT_RETRIES
    if not isinstance(default_retries, int) or not 0 <= default_retries <= qstash_settings.MAX_RETRIES:
        errors.append(Error("QSTASH['DEFAULT_RETRIES'] must be between 0 and MAX_RETRIES",
                            id="django_qstash.E003"))
    if qstash_settings.DEFAULT_TIMEOUT_SECONDS > qstash_settings.MAX_TIMEOUT_SECONDS:
        errors.append(Error("QSTASH['DEFAULT_TIMEOUT_SECONDS'] exceeds MAX_TIMEOUT_SECONDS",
                            id="django_qstash.E004"))
    return errors
