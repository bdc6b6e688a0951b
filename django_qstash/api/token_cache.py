"""Remember recently seen API tokens for a few seconds: one query less on every request."""

from __future__ import annotations

import threading
from typing import Any

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.models import ApiToken

_lock = threading.Lock()
_tokens: dict[str, tuple[float, ApiToken]] = {}
# A flood of bad tokens must not grow the cache without bound.
MAX_ENTRIES = 10_000


def active_token(digest: str) -> ApiToken | None:
    """The active token with this SHA-256 digest (tenant loaded), from the cache when fresh.

    Revoking in this process forgets the cache at once (signals, ``ApiToken.objects.revoke``);
    other processes notice within TOKEN_CACHE_SECONDS.
    """
    ttl = float(qstash_settings.TOKEN_CACHE_SECONDS or 0)
    now = clock.now().timestamp()
    if ttl > 0:
        with _lock:
            hit = _tokens.get(digest)
        if hit is not None and now - hit[0] < ttl:
            return hit[1]
    token = (ApiToken.objects.active().select_related("tenant")
             .filter(token_hash=digest).first())
    if token is not None and ttl > 0:
        with _lock:
            if len(_tokens) >= MAX_ENTRIES:
                _tokens.clear()
            _tokens[digest] = (now, token)
    return token


def forget_tokens(**kwargs: Any) -> None:
    """Signal receiver: a token or tenant changed, so nothing cached can be trusted."""
    with _lock:
        _tokens.clear()
