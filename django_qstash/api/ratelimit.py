"""Per-token API rate limits in the Django cache: a 1-second burst window and a daily quota."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from django.core.cache import caches

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.exceptions import ApiError

PREFIX = "qstash:ratelimit"


class RateLimited(ApiError):
    """429 carrying the headers the SDKs read to tell a burst limit from a daily quota."""

    status = 429

    def __init__(self, message: str, headers: dict[str, str]) -> None:
        super().__init__(message)
        self.headers = headers


def _count(key: str, amount: int, timeout: int) -> int:
    """Atomic add-then-incr: correct across processes when the cache is shared (Redis)."""
    cache = caches[qstash_settings.RATE_LIMIT_CACHE_ALIAS]
    cache.add(key, 0, timeout=timeout)
    try:
        return cache.incr(key, amount)
    except ValueError:  # the key expired between add and incr: this is a fresh window
        cache.add(key, amount, timeout=timeout)
        return amount


def check_burst(budget: int | str, counted: str = "this token") -> dict[str, str]:
    """Count one request against a per-second budget; returns the headers to send.
    ``budget``: a token's id, or another caller's key (``counted`` says whose, in the refusal)."""
    limit = int(qstash_settings.API_BURST_RATE_LIMIT or 0)
    if limit <= 0:
        return {}
    window = int(clock.now().timestamp())
    used = _count(f"{PREFIX}:burst:{budget}:{window}", 1, timeout=2)
    headers = {"Burst-RateLimit-Limit": str(limit),
               "Burst-RateLimit-Remaining": str(max(0, limit - used)),
               "Burst-RateLimit-Reset": str(window + 1)}
    if used > limit:
        raise RateLimited(f"rate limit exceeded: {limit} requests per second for {counted}",
                          headers)
    return headers


def check_daily_quota(tenant_id: int, messages: int) -> dict[str, str]:
    """Count ``messages`` against the tenant's messages-per-day quota (UTC days)."""
    limit = int(qstash_settings.DAILY_MESSAGE_QUOTA or 0)
    if limit <= 0 or messages <= 0:
        return {}
    now = clock.now().astimezone(timezone.utc)
    day = now.date()
    reset = datetime(day.year, day.month, day.day, tzinfo=timezone.utc) + timedelta(days=1)
    used = _count(f"{PREFIX}:daily:{tenant_id}:{day.isoformat()}", messages, timeout=2 * 86400)
    headers = {"RateLimit-Limit": str(limit), "RateLimit-Remaining": str(max(0, limit - used)),
               "RateLimit-Reset": str(int(reset.timestamp()))}
    if used > limit:
        # Rejected messages were counted; give them back so the quota is not burned by retries.
        _count(f"{PREFIX}:daily:{tenant_id}:{day.isoformat()}", -messages, timeout=2 * 86400)
        headers["RateLimit-Remaining"] = str(max(0, limit - used + messages))
        raise RateLimited(f"daily message quota exceeded: {limit} messages per day", headers)
    return headers
