"""The one place that reads the ``QSTASH`` settings dict, with defaults."""

from __future__ import annotations

import os
from typing import Any

from django.conf import settings
from django.core.signals import setting_changed

DEFAULTS: dict[str, Any] = {
    # --- server: limits -------------------------------------------------------------------
    "MAX_BODY_BYTES": 1024 * 1024,
    "DEFAULT_RETRIES": 3,
    "MAX_RETRIES": 20,
    "DEFAULT_TIMEOUT_SECONDS": 60,
    "MAX_TIMEOUT_SECONDS": 2 * 60 * 60,
    "MAX_DELAY_SECONDS": 365 * 24 * 60 * 60,
    "MAX_BATCH_SIZE": 1000,
    # Endpoints one URL group may hold: one publish to a group writes a copy per endpoint.
    "MAX_URL_GROUP_ENDPOINTS": 100,
    "MAX_RESPONSE_BODY_BYTES": 64 * 1024,
    # A workflow step is delivered with the run's history up to it while that history fits
    # in this many bytes; past it the body is empty and the SDK fetches the history
    # (GET /v2/workflows/runs/{id}).
    "WORKFLOW_INLINE_HISTORY_BYTES": 256 * 1024,
    # A page of GET /v2/events, /v2/logs or /v2/dlq ends early (with a cursor) where the bodies
    # it embeds would pass this many bytes: one list request cannot hold gigabytes in memory.
    # A page always holds at least one row.
    "MAX_LIST_RESPONSE_BYTES": 4 * 1024 * 1024,
    # Request headers of one publish (or one batch item): how many, and their total bytes.
    "MAX_HEADER_COUNT": 100,
    "MAX_HEADER_BYTES": 64 * 1024,
    # Per-token requests per second (429 with Burst-RateLimit-*); 0 turns it off.
    "API_BURST_RATE_LIMIT": 0,
    # Per-tenant messages per UTC day on publish, enqueue and batch (429 with RateLimit-*);
    # 0 turns it off.
    "DAILY_MESSAGE_QUOTA": 0,
    # Counters live in this cache; share it (e.g. Redis) so limits hold across processes.
    "RATE_LIMIT_CACHE_ALIAS": "default",
    # A validated API token is remembered this long per process; a token revoked in another
    # process stops working within this many seconds. 0 looks every token up every time.
    "TOKEN_CACHE_SECONDS": 5,
    # Publishes running at the same time in one process share one INSERT and one commit
    # (each answers only after its rows are committed). False: every publish commits alone.
    "GROUP_COMMIT": True,
    # Delivered messages stay readable through GET /v2/messages/{id} for this long.
    "DELIVERED_RETENTION_SECONDS": 60 * 60,
    "DEDUPLICATION_WINDOW_SECONDS": 10 * 60,
    # --- server: delivery engine ----------------------------------------------------------
    # "inprocess" (threads inside the web process), "celery", or the dotted path of a
    # transport class (built without arguments; see transport.Transport).
    "TRANSPORT": "inprocess",
    "INPROCESS_WORKERS": 8,
    # With a broker transport, a process sends up to this many of the due-now messages it
    # publishes itself (its sender loop and recorder, as a worker would), sparing the broker
    # hop and a worker's task; beyond it, and for everything the dispatcher claims, the
    # broker. 0: every message goes through the broker.
    "LOCAL_DELIVERY_LIMIT": 100,
    # A claimed message whose worker vanished is handed out again this long after its
    # per-attempt timeout would have ended.
    "LEASE_GRACE_SECONDS": 30,
    # Extra time a claimed message may wait in the broker before a worker picks it up.
    "LEASE_PICKUP_SECONDS": 120,
    "DISPATCH_BATCH_SIZE": 500,
    # Messages without queue or flow control are claimed this long before they are due and
    # sent by their worker at the due time: a burst due in one second leaves in that second.
    # A cancel that arrives in this window lets the first attempt go out (as for a message
    # in flight). 0 claims only what is due.
    "CLAIM_AHEAD_SECONDS": 2,
    # The dispatcher stops claiming while this many messages are claimed but unfinished.
    "MAX_IN_FLIGHT": 5000,
    # A tenant holding this many is claimed for only after every other tenant's due messages
    # (which may then take up to MAX_IN_FLIGHT more): a lone tenant still gets MAX_IN_FLIGHT.
    # None: half of MAX_IN_FLIGHT.
    "MAX_IN_FLIGHT_PER_TENANT": None,
    # Reported by GET /v2/globalParallelism; 0 means no global cap.
    "GLOBAL_PARALLELISM": 0,
    "DISPATCH_INTERVAL_SECONDS": 0.2,
    "CELERY_QUEUE": "qstash",
    # Claimed messages travel to workers in batches of this many (one task per batch)...
    "DELIVERY_BATCH_SIZE": 100,
    # ...and each worker process sends up to this many requests at once.
    "DELIVERY_CONCURRENCY": 100,
    # Of those, one tenant's sends may hold at most this many, and so may the sends to one
    # destination host (host and port): a slow destination cannot take every slot, and the
    # rest wait their turn in the worker. None: half of DELIVERY_CONCURRENCY. A lone tenant
    # gets its share; set DELIVERY_CONCURRENCY for both to turn the shares off.
    "DELIVERY_CONCURRENCY_PER_TENANT": None,
    "DELIVERY_CONCURRENCY_PER_HOST": None,
    # Web, worker and dispatcher processes move what start-up built out of the garbage
    # collector's full passes (gc.freeze), which otherwise paused them for ~0.1 s at times.
    "FREEZE_STARTUP_HEAP": True,
    # Allow deliveries to loopback/private addresses (the dev server turns this on).
    "ALLOW_PRIVATE_DESTINATIONS": False,
    # Opens specific non-public destinations: host names ("hooks.internal", "*.svc.local")
    # and/or networks ("10.0.0.0/8", "fd00::/8"), checked against the resolved address.
    "ALLOWED_DESTINATIONS": [],
    # Public base URL of this server, used in printed hints.
    "PUBLIC_URL": "",
    # --- operations: retention (qstash_purge) and metrics ------------------------------------
    # Finished messages (delivered, canceled, failed and out of the DLQ) are purged after this
    # long, events (the log) and DLQ entries after theirs; None keeps them forever.
    "MESSAGE_RETENTION_SECONDS": 7 * 24 * 60 * 60,
    "EVENT_RETENTION_SECONDS": 7 * 24 * 60 * 60,
    "DLQ_RETENTION_SECONDS": 7 * 24 * 60 * 60,
    # Rows deleted per statement: short transactions, no long locks on busy tables.
    "PURGE_BATCH_SIZE": 1000,
    # When > 0, qstash_dispatcher also purges, one batch per kind, at most this often.
    "PURGE_INTERVAL_SECONDS": 0,
    # GET /metrics names every tenant and queue: it answers "Authorization: Bearer
    # <METRICS_TOKEN>" (when set) and superusers' sessions; METRICS_PUBLIC opens it to anyone
    # (e.g. behind a proxy that guards the path).
    "METRICS_TOKEN": "",
    "METRICS_PUBLIC": False,
    # --- receiver -------------------------------------------------------------------------
    "CURRENT_SIGNING_KEY": None,  # falls back to the QSTASH_CURRENT_SIGNING_KEY env var
    "NEXT_SIGNING_KEY": None,  # falls back to the QSTASH_NEXT_SIGNING_KEY env var
    # With no key above, verify with the signing keys of this tenant of the site's own server
    # (server and receivers in one project: what it signs, its views accept).
    "LOCAL_TENANT": None,
    "CLOCK_TOLERANCE_SECONDS": 0,
    "CANONICAL_BASE_URL": "",
    "PROTECTED_PATHS": [],
    "REPLAY_PROTECTION": None,  # None = on when a Django cache is configured
    "REPLAY_CACHE_ALIAS": "default",
    # --- Python publishing API (django_qstash.client) -----------------------------------------
    # When set, publish() POSTs to this QStash-compatible server with CLIENT_TOKEN instead of
    # writing to the local database.
    "CLIENT_URL": "",
    "CLIENT_TOKEN": "",
}

# Settings that fall back to an environment variable of the same name as the SDKs use.
ENVIRONMENT_FALLBACKS = {
    "CURRENT_SIGNING_KEY": "QSTASH_CURRENT_SIGNING_KEY",
    "NEXT_SIGNING_KEY": "QSTASH_NEXT_SIGNING_KEY",
}


class QStashSettings:
    """Attribute access to ``settings.QSTASH`` merged over DEFAULTS, cached until changed."""

    def _user_settings(self) -> dict[str, Any]:
        return getattr(settings, "QSTASH", None) or {}

    def __getattr__(self, name: str) -> Any:
        # Only called for names not yet resolved: the value is then stored on the instance,
        # so the hot paths' later reads are plain attribute lookups.
        if name.startswith("_") or name not in DEFAULTS:
            raise AttributeError(f"Unknown QSTASH setting: {name}")
        value = self._user_settings().get(name, DEFAULTS[name])
        if value is None and name in ENVIRONMENT_FALLBACKS:
            value = os.environ.get(ENVIRONMENT_FALLBACKS[name]) or None
        self.__dict__[name] = value
        return value

    def reload(self) -> None:
        self.__dict__.clear()


qstash_settings = QStashSettings()


def _reload_on_change(*, setting: str, **kwargs: Any) -> None:
    if setting == "QSTASH":
        qstash_settings.reload()


setting_changed.connect(_reload_on_change)
