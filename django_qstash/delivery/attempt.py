"""Send one attempt: build the signed request, call the destination, classify the answer."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable

import aiohttp

from django_qstash.core.attempts import DeliveryOutcome, DeliveryRequest
from django_qstash.core.destination_url import dialled_url
from django_qstash.core.header_names import USER_AGENT, canonical, sendable_pairs
from django_qstash.exceptions import DestinationRefused, InvalidHeader

logger = logging.getLogger("django_qstash.delivery.attempt")

NON_RETRYABLE_STATUS = 489
READ_CHUNK = 64 * 1024


def build_headers(request: DeliveryRequest, signature: str) -> list[tuple[str, str]]:
    """The forwarded headers (hop-by-hop, framing and server-set ones left out, also from rows
    stored before they were filtered on the way in), then the server's own, once each.
    Raises InvalidHeader for a stored header HTTP cannot carry."""
    headers = sendable_pairs(request.headers)
    headers += [
        ("User-Agent", USER_AGENT),
        ("Upstash-Signature", signature),
        ("Upstash-Message-Id", request.message_id),
        ("Upstash-Retried", str(request.retried)),
    ]
    headers += list(request.extra_headers.items())
    return headers


async def deliver(request: DeliveryRequest, *, session: aiohttp.ClientSession,
                  sign: Callable[[str, bytes], str], max_body: int) -> DeliveryOutcome:
    """One HTTP attempt; every failure mode becomes a DeliveryOutcome, never an exception.

    Redirects are not followed (a 3xx is a failed attempt); the session's resolver applies
    the destination policy to every connection it opens.
    """
    started = time.monotonic()
    try:
        # Parsed by the parser aiohttp uses and handed over parsed, so the host checked here
        # (literal addresses never reach the resolver) is the host that is dialled.
        url = dialled_url(request.url)
        headers = build_headers(request, sign(request.url, request.body))
        async with session.request(
            request.method, url, data=request.body,
            headers=headers, allow_redirects=False,
            # A body without a Content-Type stays without one, as the publisher sent it.
            skip_auto_headers=("Content-Type",),
            timeout=aiohttp.ClientTimeout(total=request.timeout_seconds),
        ) as response:
            body = await _read_capped(response, max_body)
            headers: dict[str, list[str]] = {}
            for name, value in response.headers.items():
                headers.setdefault(canonical(name), []).append(value)
            status = response.status
    except (asyncio.TimeoutError, aiohttp.ServerTimeoutError):
        return _failure(f"timeout after {request.timeout_seconds:g}s", started)
    except DestinationRefused as exc:
        # Policy, not luck: retrying cannot help, so the message goes straight to the DLQ.
        # Said in the log too: otherwise only the events and the admin would tell.
        logger.warning("refused to deliver %s to %s: %s (in development, "
                       "QSTASH['ALLOW_PRIVATE_DESTINATIONS'] = True allows every address)",
                       request.message_id, request.url, exc)
        return _failure(f"refused: {exc}", started, non_retryable=True)
    except InvalidHeader as exc:
        # A stored header no request may carry never becomes sendable: to the DLQ, where it
        # can be edited and retried.
        return _failure(f"not sent: {exc.message}", started, non_retryable=True)
    except Exception as exc:  # connection errors, bad URLs: must not take the batch down
        return _failure(_describe(exc), started)
    non_retryable = (status == NON_RETRYABLE_STATUS and
                     (headers.get("Upstash-Nonretryable-Error") or [""])[0].lower() == "true")
    error = "" if 200 <= status < 300 else f"destination answered {status}"
    return DeliveryOutcome(status, headers, body, error, _elapsed_ms(started), non_retryable)


async def _read_capped(response: aiohttp.ClientResponse, limit: int) -> bytes:
    # The session timeout covers the whole response; the rest of a huge body is drained.
    chunks, size = [], 0
    async for chunk in response.content.iter_chunked(READ_CHUNK):
        if size < limit:
            chunks.append(chunk[: limit - size])
        size += len(chunk)
    return b"".join(chunks)


def _failure(error: str, started: float, non_retryable: bool = False) -> DeliveryOutcome:
    return DeliveryOutcome(None, {}, b"", error, _elapsed_ms(started), non_retryable)


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}"[:500] or type(exc).__name__


def _elapsed_ms(started: float) -> int:
    return int((time.monotonic() - started) * 1000)
