"""Upstash-Signature JWTs: signing, verification and key generation (pyjwt + stdlib only)."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import jwt

from django_qstash.core import clock
from django_qstash.core.ids import base58

ISSUER = "Upstash"
ALGORITHM = "HS256"
DEFAULT_LIFETIME_SECONDS = 300
# Claims the official Python SDK requires; a token lacking one is rejected.
REQUIRED_CLAIMS = ("iss", "sub", "exp", "nbf")


class SignatureError(ValueError):
    """A signature did not verify; ``reason`` is a short machine-friendly code."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(detail or reason)
        self.reason = reason
        self.detail = detail or reason


def generate_signing_key() -> str:
    """A new key shaped like Upstash's (``sig_`` + 28 base58 chars = 32 bytes, HS256's minimum)."""
    return "sig_" + base58(28)


def new_jwt_id() -> str:
    return "jwt_" + base58(27)


def body_hash(body: bytes) -> str:
    """base64url(sha256(body)) with ``=`` padding, as QStash puts it in the ``body`` claim."""
    return base64.urlsafe_b64encode(hashlib.sha256(body).digest()).decode("ascii")


def sign(
    *,
    key: str,
    url: str,
    body: bytes,
    now: int | None = None,
    lifetime: int = DEFAULT_LIFETIME_SECONDS,
    jwt_id: str | None = None,
) -> str:
    """The ``Upstash-Signature`` value for delivering ``body`` to ``url``."""
    issued_at = int(clock.timestamp()) if now is None else now
    claims = {
        "iss": ISSUER,
        "sub": url,
        "iat": issued_at,
        # QStash sends nbf=0 so receivers with a slow clock do not reject fresh messages.
        "nbf": 0,
        "exp": issued_at + lifetime,
        "jti": jwt_id or new_jwt_id(),
        "body": body_hash(body),
    }
    # The same bytes jwt.encode(claims, key, "HS256", headers={"typ": "JWT"}) writes, built
    # directly: every delivery attempt signs, and PyJWT's generic path cost four times this.
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = _HEADER + b"." + payload
    digest = hmac.new(key.encode(), signing_input, hashlib.sha256).digest()
    return (signing_input + b"." + _b64(digest)).decode("ascii")


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


_HEADER = _b64(json.dumps({"alg": ALGORITHM, "typ": "JWT"}, separators=(",", ":")).encode())


def _reason_for(error: Exception) -> str:
    # Subclasses before their bases: InvalidSignatureError is a DecodeError.
    table: tuple[tuple[type[Exception], str], ...] = (
        (jwt.ExpiredSignatureError, "expired"),
        (jwt.ImmatureSignatureError, "not_yet_valid"),
        (jwt.InvalidIssuerError, "bad_issuer"),
        (jwt.InvalidAudienceError, "bad_audience"),
        (jwt.MissingRequiredClaimError, "missing_claim"),
        (jwt.InvalidAlgorithmError, "bad_algorithm"),
        (jwt.InvalidSignatureError, "invalid_signature"),
    )
    for error_type, reason in table:
        if isinstance(error, error_type):
            return reason
    return "malformed"


# 9999-12-31T23:59:59Z. A time claim beyond it (either way) fits no datetime, float or cache
# timeout that verifying has to compute with: the token is malformed, not a server error.
LATEST_TIME = 253_402_300_799


def _time_claim(claims: dict[str, Any], name: str) -> int:
    value = int(claims[name])
    if not -LATEST_TIME <= value <= LATEST_TIME:
        raise ValueError(f"{name} is out of range")
    return value


def _check_times(claims: dict[str, Any], now: float, leeway: float) -> None:
    """PyJWT's iat/nbf/exp rules, with an injectable clock (PyJWT always reads the wall clock)."""
    try:
        if "iat" in claims:
            iat = _time_claim(claims, "iat")
            if iat > now + leeway:
                raise jwt.ImmatureSignatureError("The token is not yet valid (iat)")
        nbf, exp = _time_claim(claims, "nbf"), _time_claim(claims, "exp")
    except (ValueError, TypeError, OverflowError):
        raise jwt.DecodeError("iat, nbf and exp must be integers up to year 9999") from None
    if nbf > now + leeway:
        raise jwt.ImmatureSignatureError("The token is not yet valid (nbf)")
    if exp <= now - leeway:
        raise jwt.ExpiredSignatureError("Signature has expired")


def _verify_with_key(
    key: str, token: str, body: bytes, url: str | None, leeway: float, now: float
) -> dict[str, Any]:
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
                "verify_iss": False,
            },
        )
        _check_times(claims, now, leeway)
        if not isinstance(claims["iss"], str) or claims["iss"] != ISSUER:
            raise jwt.InvalidIssuerError(f"Invalid issuer: {claims['iss']!r}")
    except Exception as error:  # noqa: BLE001 — like the SDK, any decoding failure is a rejection
        raise SignatureError(_reason_for(error), str(error)) from error

    if url is not None and claims["sub"] != url:
        raise SignatureError("bad_url", f"signed for {claims['sub']!r}, received at {url!r}")
    signed_hash = claims.get("body")
    actual_hash = body_hash(body).rstrip("=")
    # Padding-insensitive, as both SDKs compare.
    if not isinstance(signed_hash, str) or signed_hash.rstrip("=") != actual_hash:
        detail = f"body hash {signed_hash!r} does not match {actual_hash!r}"
        raise SignatureError("bad_body", detail)
    return claims


def verify(
    *,
    token: str,
    body: bytes,
    url: str | None,
    current_key: str,
    next_key: str | None,
    clock_tolerance: int = 0,
    now: int | None = None,
) -> dict[str, Any]:
    """Return the claims of a valid token, else raise SignatureError.

    Accepts exactly what the official SDK's ``Receiver.verify`` accepts: the current key is
    tried first, then the next key (signing keys rotate). ``url=None`` skips the subject check.
    ``clock_tolerance`` widens the iat/nbf/exp windows (the Python SDK passes its tolerance
    where PyJWT ignores it, so there it has no effect); ``now`` replaces the wall clock.
    """
    keys = [key for key in (current_key, next_key) if key]
    if not keys:
        # Checked first: a site without keys is misconfigured whatever the request carries.
        raise SignatureError("not_configured", "no QStash signing key is configured")
    if not token:
        raise SignatureError("missing", "no Upstash-Signature header")
    moment = clock.timestamp() if now is None else now
    errors: list[SignatureError] = []
    for key in keys:
        try:
            return _verify_with_key(key, token, body, url, clock_tolerance, moment)
        except SignatureError as error:
            errors.append(error)
    # Report the failure of the key that did sign the token, if any: "expired" helps, the
    # other key's "invalid_signature" would not.
    informative = [error for error in errors if error.reason != "invalid_signature"]
    raise (informative or errors)[0]
