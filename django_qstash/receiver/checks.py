"""System checks for the receiver settings (django_qstash.E101–E108, W101–W103)."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register

from django_qstash.conf import qstash_settings
from django_qstash.core.url_views import url_views

MIDDLEWARE_PATHS = (
    "django_qstash.receiver.middleware.QStashSignatureMiddleware",
    "django_qstash.receiver.QStashSignatureMiddleware",
)


def _middleware_installed() -> bool:
    return any(path in MIDDLEWARE_PATHS for path in getattr(settings, "MIDDLEWARE", None) or ())


def _check_keys() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    for name in ("CURRENT_SIGNING_KEY", "NEXT_SIGNING_KEY"):
        value = getattr(qstash_settings, name)
        if value is not None and not isinstance(value, str):
            errors.append(Error(f"QSTASH[{name!r}] must be a string, got {type(value).__name__}",
                                id="django_qstash.E101"))
    local_tenant = qstash_settings.LOCAL_TENANT
    if local_tenant is not None and not isinstance(local_tenant, str):
        errors.append(Error(f"QSTASH['LOCAL_TENANT'] must be a tenant name, got "
                            f"{type(local_tenant).__name__}", id="django_qstash.E107"))
    elif local_tenant and "django_qstash" not in settings.INSTALLED_APPS:
        # The keys are read from this site's own server, whose models come with the app.
        errors.append(Error("QSTASH['LOCAL_TENANT'] names a tenant of this site's server, but "
                            "'django_qstash' is not in INSTALLED_APPS",
                            hint="Add 'django_qstash' to INSTALLED_APPS, or configure "
                                 "CURRENT_SIGNING_KEY / NEXT_SIGNING_KEY instead.",
                            id="django_qstash.E108"))
    if not qstash_settings.CURRENT_SIGNING_KEY and not qstash_settings.NEXT_SIGNING_KEY \
            and not local_tenant and _middleware_installed():
        errors.append(Warning(
            "QStashSignatureMiddleware is installed but no signing key is configured; "
            "every protected request will be rejected.",
            hint="Set QSTASH['CURRENT_SIGNING_KEY'] and QSTASH['NEXT_SIGNING_KEY'] or the "
                 "QSTASH_CURRENT_SIGNING_KEY / QSTASH_NEXT_SIGNING_KEY environment variables, "
                 "or QSTASH['LOCAL_TENANT'] when this site's own server sends the messages.",
            id="django_qstash.W101"))
    return errors


def _check_protected_paths() -> list[CheckMessage]:
    paths = qstash_settings.PROTECTED_PATHS
    if not isinstance(paths, (list, tuple)) or not all(isinstance(p, str) for p in paths):
        return [Error("QSTASH['PROTECTED_PATHS'] must be a list of regular expression strings",
                      id="django_qstash.E102")]
    errors: list[CheckMessage] = []
    for pattern in paths:
        try:
            re.compile(pattern)
        except re.error as error:
            errors.append(Error(f"QSTASH['PROTECTED_PATHS'] entry {pattern!r} is not a valid "
                                f"regular expression: {error}", id="django_qstash.E102"))
    if not paths and _middleware_installed():
        errors.append(Warning("QStashSignatureMiddleware is installed but "
                              "QSTASH['PROTECTED_PATHS'] is empty, so it protects nothing.",
                              id="django_qstash.W102"))
    return errors


def _check_base_url() -> list[CheckMessage]:
    base = qstash_settings.CANONICAL_BASE_URL
    if not base:
        return []
    parts = urlsplit(base) if isinstance(base, str) else None
    if parts is None or parts.scheme not in ("http", "https") or not parts.netloc \
            or parts.query or parts.fragment:
        return [Error(f"QSTASH['CANONICAL_BASE_URL'] must be an http(s) URL such as "
                      f"'https://example.com' (no query or fragment), got {base!r}",
                      id="django_qstash.E103")]
    return []


def _check_tolerance_and_replay() -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    tolerance = qstash_settings.CLOCK_TOLERANCE_SECONDS
    if not isinstance(tolerance, int) or isinstance(tolerance, bool) or tolerance < 0:
        errors.append(Error(f"QSTASH['CLOCK_TOLERANCE_SECONDS'] must be a non-negative integer, "
                            f"got {tolerance!r}", id="django_qstash.E104"))
    replay = qstash_settings.REPLAY_PROTECTION
    if replay not in (None, True, False):
        errors.append(Error("QSTASH['REPLAY_PROTECTION'] must be True, False or None",
                            id="django_qstash.E105"))
    alias = qstash_settings.REPLAY_CACHE_ALIAS
    if not isinstance(alias, str):
        errors.append(Error(f"QSTASH['REPLAY_CACHE_ALIAS'] must be the name of a cache, got "
                            f"{alias!r}", id="django_qstash.E106"))
    elif replay is not False and alias not in (getattr(settings, "CACHES", None) or {}):
        errors.append(Error(f"QSTASH['REPLAY_CACHE_ALIAS'] {alias!r} is not in CACHES",
                            hint="Point it at a configured cache or set REPLAY_PROTECTION False.",
                            id="django_qstash.E106"))
    return errors


def _is_protected(view: Any) -> bool:
    if getattr(view, "qstash_verified", False):  # the decorator, on functions and classes
        return True
    # The DRF permission: only a project that uses it has imported its module.
    permissions = sys.modules.get("django_qstash.receiver.permissions")
    view_class = getattr(view, "cls", None)
    return permissions is not None and any(
        isinstance(p, type) and issubclass(p, permissions.QStashSignaturePermission)
        for p in getattr(view_class, "permission_classes", ()) or ())


def _receivers_in_use() -> bool:
    if _middleware_installed() and qstash_settings.PROTECTED_PATHS:
        return True
    from django.urls import get_resolver

    try:
        return any(_is_protected(view) for view in url_views(get_resolver().url_patterns))
    except Exception:  # noqa: BLE001 — a broken URLconf is reported by Django's own check
        return False


def _check_host_trust() -> list[CheckMessage]:
    if qstash_settings.CANONICAL_BASE_URL or "*" not in (getattr(settings, "ALLOWED_HOSTS", ())
                                                           or ()):
        return []
    if not _receivers_in_use():
        return []
    return [Warning(
        "A view verifies QStash signatures, but ALLOWED_HOSTS contains '*' and "
        "QSTASH['CANONICAL_BASE_URL'] is not set: the URL a token must be signed for is built "
        "from the request's Host header, so a token signed for another site's URL is accepted "
        "here when sent with that site's host.",
        hint="List this site's host names in ALLOWED_HOSTS, or set "
             "QSTASH['CANONICAL_BASE_URL'] to its public URL.",
        id="django_qstash.W103")]


def check_receiver_settings(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not isinstance(getattr(settings, "QSTASH", None) or {}, Mapping):
        return []  # django_qstash.E015 (server checks) says QSTASH must be a dict
    return [*_check_keys(), *_check_protected_paths(), *_check_base_url(),
            *_check_tolerance_and_replay(), *_check_host_trust()]


def register_receiver_checks() -> None:
    """Register the receiver checks; safe to call more than once (the registry is a set)."""
    register(check_receiver_settings)
