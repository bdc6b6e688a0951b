"""The hand-built Upstash-Signature is byte for byte what PyJWT writes, and verifies."""

from __future__ import annotations

import jwt
import pytest

from django_qstash.core.signing import body_hash, sign, verify

KEY = "sig_" + "k" * 28


@pytest.mark.parametrize("url, body", [
    ("https://example.com/hook", b'{"a":1}'),
    ("http://[::1]:8080/p?q=1&r=%C3%BC", b"\x00\xff binary"),
    ("https://example.com/ünïcode/é", b""),
])
def test_same_bytes_as_pyjwt(url, body):
    token = sign(key=KEY, url=url, body=body, now=1_800_000_000, jwt_id="jwt_fixed")
    claims = {"iss": "Upstash", "sub": url, "iat": 1_800_000_000, "nbf": 0,
              "exp": 1_800_000_300, "jti": "jwt_fixed", "body": body_hash(body)}
    assert token == jwt.encode(claims, KEY, algorithm="HS256", headers={"typ": "JWT"})


def test_verifies_with_pyjwt_and_our_verifier():
    token = sign(key=KEY, url="https://example.com/hook", body=b"x")
    decoded = jwt.decode(token, KEY, algorithms=["HS256"], issuer="Upstash")
    assert decoded["sub"] == "https://example.com/hook"
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = verify(token=token, body=b"x", url="https://example.com/hook", current_key=KEY,
                    next_key=None)
    assert claims["body"] == body_hash(b"x")
