"""Publish from Django code with the Upstash-* options as arguments: local, remote or outbox."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from django_qstash.core.request_headers import PublishOptions
    from django_qstash.models import Tenant

# Nothing heavy at import time: this module is imported by the pytest plugin before Django is
# configured, and by sites that only receive (no DRF, no Celery). Each backend imports what it
# needs when it sends.

Headers = Mapping[str, str] | Iterable[tuple[str, str]]
Duration = int | float | str | timedelta
MessageIds = str | list[str]


@dataclass
class OutgoingMessage:
    """One publish call as every backend receives it, and as ``qstash_outbox`` records it."""

    destination: str  # a URL or the name of a URL group
    body: bytes
    headers: list[tuple[str, str]]  # the request headers the HTTP API would receive
    queue: str | None = None
    tenant: Tenant | str | None = None
    message_id: str = ""  # filled in by the outbox

    def header(self, name: str) -> str | None:
        """The last value of a request header, by case-insensitive name, or None."""
        found = [value for key, value in self.headers if key.lower() == name.lower()]
        return found[-1] if found else None

    @property
    def options(self) -> PublishOptions:
        """The headers parsed exactly as the API parses them (delay, retries, callbacks, ...)."""
        from django_qstash.core.request_headers import parse_publish_headers

        return parse_publish_headers(self.headers)

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)


class Backend(Protocol):
    def send(self, message: OutgoingMessage) -> MessageIds: ...


class LocalBackend:
    """Write the message to this site's database, as ``POST /v2/publish`` would."""

    def send(self, message: OutgoingMessage) -> MessageIds:
        from django_qstash.engine.publishing import prepare, publish_specs

        tenant = resolve_tenant(message.tenant)
        spec = prepare(tenant, message.destination, message.body, message.headers,
                       queue_name=message.queue or "")
        [result] = publish_specs(tenant, [spec])
        if isinstance(result, list):
            return [published.message_id for published in result]
        return result.message_id


class RemoteBackend:
    """POST to a QStash-compatible server (this package elsewhere, or Upstash's cloud)."""

    def __init__(self, url: str, token: str, timeout: float = 10.0) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> MessageIds:
        import httpx

        from django_qstash.exceptions import ApiError

        if message.tenant is not None:
            # The token decides the tenant on a remote server; silently ignoring it would
            # publish under another tenant than the caller asked for.
            raise ValueError("tenant= works locally only; on a remote server the token picks it")
        # The destination goes into the path as is, as the official SDKs send it.
        path = f"/v2/enqueue/{message.queue}/" if message.queue else "/v2/publish/"
        response = httpx.post(
            self.url + path + message.destination, content=message.body, timeout=self.timeout,
            headers=[*message.headers, ("Authorization", f"Bearer {self.token}")])
        if response.status_code >= 400:
            try:
                reason = str(response.json()["error"])
            except (ValueError, KeyError, TypeError):
                reason = response.text[:200] or response.reason_phrase
            raise ApiError(reason, status=response.status_code)
        data = response.json()
        if isinstance(data, list):
            return [item["messageId"] for item in data]
        return data["messageId"]


class Outbox(list[OutgoingMessage]):
    """A backend that keeps messages instead of sending them, like Django's ``mail.outbox``.

    Options are checked as the API checks them, so a bad delay or callback fails the test.
    URL groups are not resolved: one message id is returned for any destination.
    """

    def send(self, message: OutgoingMessage) -> MessageIds:
        from django_qstash.core import ids
        from django_qstash.core.destination_url import parse_destination
        from django_qstash.core.request_headers import validate_name
        from django_qstash.engine.publishing import is_url

        message.options  # noqa: B018  (raises BadRequest like the API would)
        if is_url(message.destination):
            parse_destination(message.destination)
        else:
            validate_name(message.destination, "URL group name")
        if message.queue:
            validate_name(message.queue, "queue name")
        message.message_id = ids.message_id()
        self.append(message)
        return message.message_id


_override: Backend | None = None


def get_backend(*, local: bool = False) -> Backend:
    """The override if one is set; else remote when ``QSTASH["CLIENT_URL"]`` is set; else local.

    ``local=True`` skips the remote server: for messages that must be signed with this site's
    keys (the task backend's), while an outbox still catches them in tests.
    """
    if _override is not None:
        return _override
    if local:
        return LocalBackend()
    from django_qstash.conf import qstash_settings

    if qstash_settings.CLIENT_URL:
        return RemoteBackend(qstash_settings.CLIENT_URL, qstash_settings.CLIENT_TOKEN)
    return LocalBackend()


def set_backend(backend: Backend | None) -> Backend | None:
    """Send every later publish through ``backend`` (None restores the default); returns the
    override it replaces. Process-wide on purpose: threads (e.g. a live server) see it too."""
    global _override
    previous, _override = _override, backend
    return previous


@contextmanager
def use_backend(backend: Backend) -> Iterator[Backend]:
    previous = set_backend(backend)
    try:
        yield backend
    finally:
        set_backend(previous)


def resolve_tenant(tenant: Tenant | str | None) -> Tenant:
    """A Tenant as given, or by name; the default tenant is created on first use."""
    from django_qstash.engine.tenants import DEFAULT_TENANT, create_tenant
    from django_qstash.exceptions import NotFound
    from django_qstash.models import Tenant

    if isinstance(tenant, Tenant):
        return tenant
    name = tenant or DEFAULT_TENANT
    found = Tenant.objects.filter(name=name).first()
    if found is not None:
        return found
    if name == DEFAULT_TENANT:
        return create_tenant(name)
    # Other tenants are created on purpose (qstash_create_token --tenant): a typo must not
    # quietly start a new one.
    raise NotFound(f"tenant {name!r} does not exist")


def _duration(value: Duration) -> str:
    if isinstance(value, timedelta):
        return f"{int(value.total_seconds())}s"
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return f"{int(value)}s"
    return str(value)  # "10s", "1h30m": passed on for the API's parser to judge


def _timestamp(value: datetime | float) -> str:
    if isinstance(value, datetime):
        from django.utils import timezone

        # Django's rule: a naive datetime is in the current time zone.
        aware = timezone.make_aware(value) if timezone.is_naive(value) else value
        return str(int(aware.timestamp()))
    return str(int(value))


def header_pairs(headers: Headers | None = None, **options: Any) -> list[tuple[str, str]]:
    """The request headers for these arguments, as the HTTP API receives them.

    As in the official SDKs, plain headers are forwarded to the destination
    (``Upstash-Forward-*``) while ``Upstash-*`` and ``Content-Type`` pass as they are; the
    keyword options come last, so they win over the same setting given in ``headers``.
    A name or value no HTTP request may carry (CR, LF, NUL, …) raises ``InvalidHeader``,
    whichever backend would send it.
    """
    from django_qstash.core.header_names import check_headers

    pairs: list[tuple[str, str]] = []
    items = headers.items() if isinstance(headers, Mapping) else (headers or ())
    for name, value in items:
        lower = name.lower()
        if lower.startswith("upstash-") or lower == "content-type":
            pairs.append((name, str(value)))
        else:
            pairs.append((f"Upstash-Forward-{name}", str(value)))
    given = {name: value for name, value in options.items() if value is not None}
    convert = {
        "method": ("Upstash-Method", lambda v: str(v).upper()),
        "delay": ("Upstash-Delay", _duration),
        "not_before": ("Upstash-Not-Before", _timestamp),
        "retries": ("Upstash-Retries", str),
        "retry_delay": ("Upstash-Retry-Delay", str),
        "timeout": ("Upstash-Timeout", _duration),
        "callback": ("Upstash-Callback", str),
        "failure_callback": ("Upstash-Failure-Callback", str),
        "deduplication_id": ("Upstash-Deduplication-Id", str),
        "label": ("Upstash-Label",
                  lambda v: v if isinstance(v, str) else ",".join(map(str, v))),
    }
    for option, value in given.items():
        if option == "content_based_deduplication":
            if value:
                pairs.append(("Upstash-Content-Based-Deduplication", "true"))
            continue
        if option not in convert:
            raise TypeError(f"publish() got an unexpected keyword argument {option!r}")
        header, to_text = convert[option]
        pairs.append((header, to_text(value)))
    check_headers(pairs)
    return pairs


def publish(
    destination: str,
    body: bytes | str = b"",
    *,
    headers: Headers | None = None,
    method: str | None = None,
    delay: Duration | None = None,
    not_before: datetime | int | None = None,
    retries: int | None = None,
    retry_delay: str | None = None,
    timeout: Duration | None = None,
    callback: str | None = None,
    failure_callback: str | None = None,
    deduplication_id: str | None = None,
    content_based_deduplication: bool = False,
    label: str | Sequence[str] | None = None,
    queue: str | None = None,
    tenant: Tenant | str | None = None,
) -> MessageIds:
    """Publish to a URL (or URL group, or enqueue with ``queue=``); returns the message id,
    a list of ids for a URL group. Invalid options raise ``django_qstash.exceptions.ApiError``.

    Locally the message is a row of the caller's transaction: if that rolls back, nothing is
    sent, and due-now messages leave only once it commits.
    """
    pairs = header_pairs(
        headers, method=method, delay=delay, not_before=not_before, retries=retries,
        retry_delay=retry_delay, timeout=timeout, callback=callback,
        failure_callback=failure_callback, deduplication_id=deduplication_id,
        content_based_deduplication=content_based_deduplication, label=label)
    from django_qstash.core.storable_text import reject_unstorable_publish

    # Before any backend: every one of them would store or send this text.
    reject_unstorable_publish(destination, pairs, queue or "",
                              body if isinstance(body, str) else None)
    data = body.encode() if isinstance(body, str) else bytes(body)
    message = OutgoingMessage(destination, data, pairs, queue=queue or None, tenant=tenant)
    return get_backend().send(message)


def publish_json(destination: str, body: Any = None, *, headers: Headers | None = None,
                 **options: Any) -> MessageIds:
    """``publish`` with ``body`` encoded as JSON (dates, decimals and UUIDs included) and
    ``Content-Type: application/json`` unless ``headers`` names another."""
    from django.core.serializers.json import DjangoJSONEncoder

    items = list(headers.items() if isinstance(headers, Mapping) else (headers or ()))
    if not any(name.lower() == "content-type" for name, _ in items):
        items.append(("Content-Type", "application/json"))
    data = json.dumps(body, cls=DjangoJSONEncoder).encode()
    return publish(destination, data, headers=items, **options)
