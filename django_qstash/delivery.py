"""Send one attempt: build the signed request, call the destination, classify the answer."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx

from .destinations import guarded_transport
from .exceptions import DestinationRefused
from .header_names import canonical

USER_AGENT = "Upstash-QStash"
NON_RETRYABLE_STATUS = 489


@dataclass
class DeliveryRequest:
    url: str
    method: str
    headers: dict[str, list[str]]  # forwarded headers, Content-Type included
    body: bytes
    timeout_seconds: float
    message_id: str
    retried: int
    extra_headers: dict[str, str] = field(default_factory=dict)  # Upstash-Topic-Name, …


@dataclass
class DeliveryOutcome:
    status: int | None  # None when no HTTP response arrived
    headers: dict[str, list[str]]
    body: bytes
    error: str
    duration_ms: int
    non_retryable: bool = False

    @property
    def delivered(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


def build_headers(request: DeliveryRequest, signature: str) -> list[tuple[str, str]]:
    headers: list[tuple[str, str]] = []
    for name, values in request.headers.items():
        headers.extend((name, value) for value in values)
    headers += [
        ("User-Agent", USER_AGENT),
        ("Upstash-Signature", signature),
        ("Upstash-Message-Id", request.message_id),
        ("Upstash-Retried", str(request.retried)),
    ]
    headers += list(request.extra_headers.items())
    return headers


def deliver(request: DeliveryRequest, *, client: httpx.Client, sign: Callable[[str, bytes], str],
            max_body: int) -> DeliveryOutcome:
    """One HTTP attempt; every failure mode becomes a DeliveryOutcome, never an exception."""
    started = time.monotonic()
    try:
        signature = sign(request.url, request.body)
        with client.stream(
            request.method, request.url, content=request.body,
            headers=build_headers(request, signature),
            timeout=httpx.Timeout(request.timeout_seconds),
        ) as response:
            body = _read_capped(response, max_body, started, request.timeout_seconds)
            headers: dict[str, list[str]] = {}
            for name, value in response.headers.multi_items():
                headers.setdefault(canonical(name), []).append(value)
            status = response.status_code
    except httpx.TimeoutException:
        return _failure(f"timeout after {request.timeout_seconds:g}s", started)
    except DestinationRefused as exc:
        # Policy, not luck: retrying cannot help, so the message goes straight to the DLQ.
        return _failure(f"refused: {exc}", started, non_retryable=True)
    except (httpx.HTTPError, OSError, ValueError) as exc:
        return _failure(_describe(exc), started)
    except Exception as exc:  # e.g. httpx.InvalidURL: must not take the worker's batch down
        return _failure(_describe(exc), started)
    non_retryable = (status == NON_RETRYABLE_STATUS and
                     (headers.get("Upstash-Nonretryable-Error") or [""])[0].lower() == "true")
    error = "" if 200 <= status < 300 else f"destination answered {status}"
    return DeliveryOutcome(status, headers, body, error, _elapsed_ms(started), non_retryable)


def _read_capped(response: httpx.Response, limit: int, started: float, timeout: float) -> bytes:
    # The per-attempt timeout covers the whole response, not only each read.
    chunks, size = [], 0
    for chunk in response.iter_bytes():
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
        if time.monotonic() - started > timeout:
            raise httpx.ReadTimeout("response body took too long")
    return b"".join(chunks)


def _failure(error: str, started: float, non_retryable: bool = False) -> DeliveryOutcome:
    return DeliveryOutcome(None, {}, b"", error, _elapsed_ms(started), non_retryable)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)


_local = threading.local()


def http_client(*, verify_destination: Callable[[httpx.Request], None] | None = None) -> httpx.Client:
    """A keep-alive client per thread: connections to the same destination are reused.

    Every connection goes through the destination policy at connect time (guarded_transport);
    redirects are not followed, a 3xx is a failed attempt.
    """
    client = getattr(_local, "client", None)
    if client is None:
        hooks = {"request": [verify_destination]} if verify_destination else {}
        limits = httpx.Limits(max_connections=100, max_keepalive_connections=20)
        client = httpx.Client(follow_redirects=False, event_hooks=hooks,
                              transport=guarded_transport(limits=limits))
        _local.client = client
    return client
