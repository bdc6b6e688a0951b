"""Test helpers: sign requests the way QStash does, a test client that does it, enqueued tasks."""

from __future__ import annotations

from typing import Any

from django.http.request import HttpHeaders
from django.test import Client, RequestFactory
from django.test.client import MULTIPART_CONTENT

from django_qstash.core import ids
from django_qstash.core.header_names import USER_AGENT
from django_qstash.core.signing import DEFAULT_LIFETIME_SECONDS, sign
from django_qstash.receiver.keys import signing_keys
from django_qstash.receiver.verification import expected_url


def _token(url: str, body: bytes | str, key: str | None, **options: Any) -> str:
    key = key or signing_keys()[0]
    if not key:
        raise ValueError("No signing key: pass key=, or configure QSTASH['CURRENT_SIGNING_KEY'] "
                         "or QSTASH['LOCAL_TENANT']")
    data = body.encode() if isinstance(body, str) else body
    return sign(key=key, url=url, body=data, **options)


def delivery_headers(*, message_id: str | None = None, retried: int = 0) -> dict[str, str]:
    """The headers QStash sends with every delivery besides the signature: a fresh message
    id (receivers dedupe by it), the retry count and QStash's User-Agent."""
    return {"Upstash-Message-Id": message_id or ids.message_id(),
            "Upstash-Retried": str(retried), "User-Agent": USER_AGENT}


def sign_request(
    url: str,
    body: bytes | str = b"",
    *,
    key: str | None = None,
    now: int | None = None,
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    jwt_id: str | None = None,
) -> dict[str, str]:
    """``HTTP_UPSTASH_SIGNATURE`` and the other delivery headers (``delivery_headers()``) as
    ``Client.post(path, data, **extra)`` takes them.

    ``url`` is the absolute URL the receiver sees (``http://testserver/...`` by default);
    the key defaults to the configured current signing key.
    """
    headers = signature_headers(url, body, key=key, now=now, lifetime=lifetime, jwt_id=jwt_id)
    return {HttpHeaders.to_wsgi_name(name): value for name, value in headers.items()}


def signature_headers(
    url: str,
    body: bytes | str = b"",
    *,
    key: str | None = None,
    now: int | None = None,
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    jwt_id: str | None = None,
) -> dict[str, str]:
    """``Upstash-Signature`` and the other delivery headers (``delivery_headers()``) for the
    ``headers=`` argument of Client and AsyncClient."""
    token = _token(url, body, key, now=now, lifetime=lifetime, jwt_id=jwt_id)
    return {**delivery_headers(), "Upstash-Signature": token}


class QStashTestClient(Client):
    """A test client whose ``post_signed`` sends requests signed as QStash would deliver them,
    with the delivery headers too (``headers=`` or ``HTTP_*`` keywords override them)."""

    def post_signed(
        self,
        path: str,
        data: Any = None,
        content_type: str = MULTIPART_CONTENT,
        *,
        secure: bool = False,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> Any:
        # Build the same request without sending it, to sign exactly the bytes and the URL
        # the receiver will see (proxy headers and CANONICAL_BASE_URL included).
        factory = RequestFactory(json_encoder=self.json_encoder, **self.defaults)
        probe = factory.post(path, data, content_type=content_type, secure=secure, **extra)
        token = _token(expected_url(probe), probe.body, key)
        sent = {name: value for name, value in delivery_headers().items()
                if HttpHeaders.to_wsgi_name(name) not in extra}
        sent.update(headers or {})
        return self.post(path, data, content_type=content_type, secure=secure, headers=sent,
                         HTTP_UPSTASH_SIGNATURE=token, **extra)


def enqueued_tasks(outbox: list) -> list[dict[str, Any]]:
    """The tasks that ``qstash_outbox`` kept instead of sending: ``{"task": "app.tasks.name",
    "args": [...], "kwargs": {...}, "id": result id, "queue": queue}`` per enqueue, in order."""
    import json

    found = []
    for message in outbox:
        if "/qstash/tasks/" not in message.destination:
            continue
        payload = json.loads(message.body)
        found.append({"task": payload["task"], "args": payload["args"],
                      "kwargs": payload["kwargs"], "id": payload["id"], "queue": message.queue})
    return found
