"""System checks of a task backend: the base URL is set and the delivery engine may reach it."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

from django.core import checks

from django_qstash.conf import qstash_settings


def check_backend(backend) -> Iterator[checks.CheckMessage]:
    base_url = backend.task_options.base_url
    if not base_url.startswith(("http://", "https://")) or not urlsplit(base_url).hostname:
        yield checks.Error(
            f"TASKS[{backend.alias!r}] has no usable BASE_URL ({base_url!r})",
            hint="Set OPTIONS['BASE_URL'] (or QSTASH['PUBLIC_URL']) to the http(s) URL at "
                 "which the delivery engine reaches this site, e.g. 'http://web:8000'.",
            id="django_qstash.E201")
        return
    yield from _check_reachable(backend.alias, urlsplit(base_url).hostname or "")


def _check_reachable(alias: str, host: str) -> Iterator[checks.CheckMessage]:
    from django.conf import settings

    from django_qstash.core.destination_policy import allowed_address, allowed_host, literal_address

    if not isinstance(getattr(settings, "QSTASH", None) or {}, dict):
        return  # django_qstash.E015 says so; the policy cannot be read
    if qstash_settings.ALLOW_PRIVATE_DESTINATIONS or allowed_host(host):
        return
    address = "127.0.0.1" if host.lower() == "localhost" else literal_address(host)
    # Names are judged when a delivery resolves them; only literal addresses are known now.
    if address is not None and not allowed_address(address):
        yield checks.Warning(
            f"TASKS[{alias!r}] delivers to {host}, a non-public address the destination "
            f"policy refuses: every task would fail",
            hint=f"Add {host!r} to QSTASH['ALLOWED_DESTINATIONS'].",
            id="django_qstash.W201")
