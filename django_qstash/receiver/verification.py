"""Verify the Upstash-Signature of a Django request: URL, raw body, keys, replay cache."""

from __future__ import annotations

import hashlib
import json
import logging
from dataclasses import dataclass
from typing import Any

from django.core.cache import BaseCache, caches
from django.core.cache.backends.dummy import DummyCache
from django.http import HttpRequest, JsonResponse
from django.http.request import RawPostDataException

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.core.signing import SignatureError, verify
from django_qstash.receiver.keys import asigning_keys, signing_keys

logger = logging.getLogger("django_qstash.receiver")

SIGNATURE_HEADER = "Upstash-Signature"
REPLAY_KEY_PREFIX = "django_qstash:replay:"
REPLAY_MEMORY_MAX_SECONDS = 366 * 24 * 60 * 60


@dataclass(frozen=True)
class SigningKeys:
    """The URL a token must be signed for, and the keys that may have signed it."""

    url: str
    current: str | None
    next: str | None


def expected_url(request: HttpRequest) -> str:
    """The URL QStash must have signed (the ``sub`` claim) for this request to be genuine.

    ``CANONICAL_BASE_URL`` (scheme + host, optionally a path prefix a proxy strips) replaces
    what the request says about itself; otherwise ``build_absolute_uri()`` applies Django's
    SECURE_PROXY_SSL_HEADER and USE_X_FORWARDED_HOST. The comparison is exact, trailing slash
    included, as in the official SDKs.
    """
    base = qstash_settings.CANONICAL_BASE_URL
    if base:
        return base.rstrip("/") + request.get_full_path()
    return request.build_absolute_uri()


def _read_body(request: HttpRequest) -> bytes:
    try:
        return request.body
    except RawPostDataException as error:
        # Something parsed a multipart body from the stream first; the bytes are gone.
        raise SignatureError("body_unavailable", str(error)) from error


def verify_signature(request: HttpRequest, keys: SigningKeys | None = None) -> dict[str, Any]:
    """Check the signature against the configured keys (or ``keys``, for this server's own
    endpoints, which know their URL and tenant); no replay bookkeeping."""
    token = request.headers.get(SIGNATURE_HEADER, "")
    if keys is None:
        keys = SigningKeys(expected_url(request), *signing_keys())
    return verify(
        token=token,
        body=_read_body(request) if token else b"",
        url=keys.url,
        current_key=keys.current,
        next_key=keys.next,
        clock_tolerance=qstash_settings.CLOCK_TOLERANCE_SECONDS,
    )


def replay_cache() -> BaseCache | None:
    """The cache that remembers seen token ids, or None when replay protection is off."""
    enabled = qstash_settings.REPLAY_PROTECTION
    if enabled is False:
        return None
    cache = caches[qstash_settings.REPLAY_CACHE_ALIAS]
    if enabled is None and isinstance(cache, DummyCache):
        # "Automatic" means: only when there is a cache that actually stores things.
        return None
    return cache


def _replay_entry(claims: dict[str, Any]) -> tuple[str, int]:
    token_id = claims.get("jti")
    if not isinstance(token_id, str):
        # The signed claims identify the token as well; its encoded form would not
        # (base64 leaves spare bits, so one signature has several spellings).
        token_id = json.dumps(claims, sort_keys=True, default=str)
    key = REPLAY_KEY_PREFIX + hashlib.sha256(token_id.encode()).hexdigest()
    # Remember the id for as long as the token could still verify.
    remaining = (int(claims["exp"]) - int(clock.timestamp())
                 + qstash_settings.CLOCK_TOLERANCE_SECONDS)
    # QStash's tokens live minutes; only a key holder mints one valid for years, and every
    # cache backend takes a year (memcached, the database cache would fail on some far dates).
    return key, min(max(remaining, 1), REPLAY_MEMORY_MAX_SECONDS)


def verify_request(request: HttpRequest, keys: SigningKeys | None = None) -> dict[str, Any]:
    """Verify the request and record its token id; raise SignatureError on any failure."""
    if keys is None and (claims := getattr(request, "qstash_claims", None)) is not None:
        # Already verified on this request (middleware and decorator both in place):
        # checking again would see our own token id and call it a replay.
        return claims
    claims = verify_signature(request, keys)
    cache = replay_cache()
    if cache is not None:
        key, timeout = _replay_entry(claims)
        if not cache.add(key, 1, timeout):
            raise SignatureError("replayed", f"token {claims.get('jti')!r} was already used")
    request.qstash_claims = claims  # type: ignore[attr-defined]
    return claims


async def averify_request(request: HttpRequest) -> dict[str, Any]:
    """verify_request for async code: the cache is reached through its async API."""
    if (claims := getattr(request, "qstash_claims", None)) is not None:
        return claims
    claims = verify_signature(request, SigningKeys(expected_url(request),
                                                   *await asigning_keys()))
    cache = replay_cache()
    if cache is not None:
        key, timeout = _replay_entry(claims)
        if not await cache.aadd(key, 1, timeout):
            raise SignatureError("replayed", f"token {claims.get('jti')!r} was already used")
    request.qstash_claims = claims  # type: ignore[attr-defined]
    return claims


def log_rejection(request: HttpRequest, error: SignatureError) -> None:
    # A missing key is the site's fault, not the sender's: say so louder.
    log = logger.error if error.reason == "not_configured" else logger.warning
    log(
        "Rejected QStash request to %s: %s (%s)",
        request.path,
        error.reason,
        error.detail,
        extra={"reason": error.reason, "request": request},
    )


def reject(request: HttpRequest, error: SignatureError) -> JsonResponse:
    """The 401 answer to a request that failed verification, logged with the detail."""
    log_rejection(request, error)
    response = JsonResponse({"error": error.reason}, status=401)
    # A 401 must name an authentication scheme.
    response["WWW-Authenticate"] = SIGNATURE_HEADER
    return response
