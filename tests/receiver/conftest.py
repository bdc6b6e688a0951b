"""Fixtures for the receiver tests: configured keys and a token forge."""

from __future__ import annotations

import json
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jwt
import pytest
from jwt.warnings import InsecureKeyLengthWarning

from django_qstash.core.signing import body_hash, generate_signing_key, new_jwt_id

MIDDLEWARE = "django_qstash.receiver.middleware.QStashSignatureMiddleware"
UNSET = object()


@dataclass(frozen=True)
class Keys:
    current: str
    next: str
    unknown: str


@pytest.fixture
def keys(settings) -> Keys:
    """Signing keys configured, /hooks/ protected by the middleware, replay cache fresh."""
    from django.core.cache import cache

    found = Keys(generate_signing_key(), generate_signing_key(), generate_signing_key())
    settings.QSTASH = {
        **settings.QSTASH,
        "CURRENT_SIGNING_KEY": found.current,
        "NEXT_SIGNING_KEY": found.next,
        "PROTECTED_PATHS": [r"/hooks/"],
    }
    settings.MIDDLEWARE = [MIDDLEWARE, *settings.MIDDLEWARE]
    cache.clear()
    return found


def forge_token(
    url: str,
    payload: bytes,
    /,
    *,
    key: str | None,
    algorithm: str = "HS256",
    drop: tuple[str, ...] = (),
    **overrides: Any,
) -> str:
    """A hand-made token: QStash's claims, with any of them replaced or removed."""
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": "Upstash", "sub": url, "iat": now, "nbf": 0, "exp": now + 300,
        "jti": new_jwt_id(), "body": body_hash(payload),
    }
    claims.update(overrides)
    for name in drop:
        claims.pop(name, None)
    claims = {name: value for name, value in claims.items() if value is not UNSET}
    with warnings.catch_warnings():
        # HS384/HS512 tokens are forged on purpose, with keys sized for HS256.
        warnings.simplefilter("ignore", InsecureKeyLengthWarning)
        # The JWS layer signs any JSON, e.g. a numeric "iss" that jwt.encode refuses to build.
        payload = json.dumps(claims, separators=(",", ":")).encode()
        return jwt.api_jws.encode(payload, key if algorithm != "none" else None, algorithm)


@pytest.fixture
def forge(keys: Keys) -> Callable[..., str]:
    def make(url: str, payload: bytes = b"", /, *, key: str | None = None, **options: Any) -> str:
        return forge_token(url, payload, key=key or keys.current, **options)

    return make
