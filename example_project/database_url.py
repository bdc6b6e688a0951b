"""Turn a DATABASE_URL (postgres://, sqlite:///) into a Django DATABASES entry."""

from __future__ import annotations

from urllib.parse import parse_qsl, unquote, urlsplit


def parse_database_url(url: str) -> dict:
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme in ("postgres", "postgresql", "pgsql"):
        config = {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parts.path.lstrip("/")),
            "USER": unquote(parts.username or ""),
            "PASSWORD": unquote(parts.password or ""),
            "HOST": parts.hostname or "",
            "PORT": str(parts.port or ""),
            "CONN_MAX_AGE": 60,
            # No "SELECT 1" before every request's first query (a round trip each): a connection
            # that broke is closed after the request that saw the error, and the next reconnects.
            "CONN_HEALTH_CHECKS": False,
        }
        # The inserts every message runs are prepared on the server once run 5 times on a
        # connection (django_qstash prepares no other statement: see fast_cursor): parsing and
        # planning each anew cost the database more than running it. Django turns this off by
        # default for connection poolers; behind one that cannot keep prepared statements
        # (PgBouncer in transaction mode before 1.21), add ?prepare_threshold=none.
        options = {"prepare_threshold": 5, **dict(parse_qsl(parts.query))}
        options["prepare_threshold"] = _threshold(options["prepare_threshold"])
        config["OPTIONS"] = options
        return config
    if scheme == "sqlite":
        # sqlite:///relative.db and sqlite:////absolute/path.db, as dj-database-url reads them.
        path = parts.path[1:] if parts.path.startswith("/") else parts.path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": path or ":memory:",
            # IMMEDIATE transactions avoid "database is locked" upgrades under worker threads.
            "OPTIONS": {"timeout": 30, "transaction_mode": "IMMEDIATE"},
        }
    raise ValueError(f"Unsupported DATABASE_URL scheme: {scheme!r}")


def _threshold(value) -> int | None:
    if isinstance(value, int) or value is None:
        return value
    return None if value.strip().lower() in ("", "none", "null") else int(value)
