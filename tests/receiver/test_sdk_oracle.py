"""Our verify() accepts exactly the tokens the official SDK's Receiver.verify accepts."""

from __future__ import annotations

import time

import pytest
from hypothesis import HealthCheck, event, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from qstash import Receiver

from django_qstash.core.signing import SignatureError, body_hash, generate_signing_key, sign, verify

from .conftest import UNSET, forge_token

CURRENT, NEXT, UNKNOWN = (generate_signing_key() for _ in range(3))
URL = "https://example.com/api/hook?x=1"
BODY = '{"unicode": "ÿ✓", "n": 1}'.encode()
# Far from "now" on both sides, so the SDK's wall clock and ours cannot disagree.
NOW = int(time.time())
SOON, LATER, PAST = NOW + 1800, NOW + 7200, NOW - 1800


def sdk_accepts(token: str, body: bytes, url: str | None) -> bool:
    # The SDK takes the body as text; these bodies are UTF-8. Its clock_tolerance is passed to
    # PyJWT inside `options`, where PyJWT ignores it, so the comparison uses tolerance 0.
    try:
        Receiver(CURRENT, NEXT).verify(signature=token, body=body.decode(), url=url)
    except Exception:  # noqa: BLE001 — the SDK also lets KeyError/AttributeError escape
        return False
    return True


def ours_accepts(token: str, body: bytes, url: str | None) -> bool:
    try:
        verify(token=token, body=body, url=url, current_key=CURRENT, next_key=NEXT)
    except SignatureError:
        return False
    return True


def _fixed_tokens():
    hashed = body_hash(BODY)
    yield "ours", sign(key=CURRENT, url=URL, body=BODY)
    yield "ours_next", sign(key=NEXT, url=URL, body=BODY)
    yield "ours_unknown", sign(key=UNKNOWN, url=URL, body=BODY)
    yield "ours_other_url", sign(key=CURRENT, url=URL + "&y", body=BODY)
    yield "ours_expired", sign(key=CURRENT, url=URL, body=BODY, now=PAST - 400)
    yield "unpadded_hash", forge_token(URL, BODY, key=CURRENT, body=hashed.rstrip("="))
    yield "extra_padding", forge_token(URL, BODY, key=CURRENT, body=hashed + "==")
    yield "no_body_claim", forge_token(URL, BODY, key=CURRENT, body=UNSET)
    yield "int_body_claim", forge_token(URL, BODY, key=CURRENT, body=12)
    yield "aud_set", forge_token(URL, BODY, key=CURRENT, aud="someone")
    yield "aud_empty", forge_token(URL, BODY, key=CURRENT, aud="")
    yield "iat_future", forge_token(URL, BODY, key=CURRENT, iat=LATER)
    yield "no_iat", forge_token(URL, BODY, key=CURRENT, iat=UNSET)
    yield "exp_as_text", forge_token(URL, BODY, key=CURRENT, exp=str(SOON))
    yield "exp_float", forge_token(URL, BODY, key=CURRENT, exp=SOON + 0.5)
    yield "nbf_null", forge_token(URL, BODY, key=CURRENT, nbf=None)
    yield "iss_lower", forge_token(URL, BODY, key=CURRENT, iss="upstash")
    yield "sub_int", forge_token(URL, BODY, key=CURRENT, sub=5)
    yield "jti_int", forge_token(URL, BODY, key=CURRENT, jti=5)
    yield "hs384", forge_token(URL, BODY, key=CURRENT, algorithm="HS384")
    yield "none", forge_token(URL, BODY, key=None, algorithm="none")
    yield "garbage", "garbage"
    yield "two_dots", "a.b.c"
    yield "empty_segments", ".."


@pytest.mark.parametrize(("name", "token"), list(_fixed_tokens()))
@pytest.mark.parametrize("url", [URL, None, "https://example.com/other"])
def test_fixed_tokens_agree_with_sdk(name, token, url):
    assert ours_accepts(token, BODY, url) == sdk_accepts(token, BODY, url), name


def test_fixed_tokens_cover_both_outcomes():
    outcomes = {sdk_accepts(token, BODY, URL) for _, token in _fixed_tokens()}
    assert outcomes == {True, False}


VALID_CLAIMS = {"iss": "Upstash", "sub": URL, "iat": NOW, "nbf": 0, "exp": SOON,
                "jti": "jwt_abc", "aud": UNSET, "body": body_hash(BODY)}
ODD_VALUES = {
    "iss": ["upstash", "", None, 1, UNSET],
    "sub": [URL + "/", "", None, 7, UNSET],
    "iat": [PAST, LATER, "x", str(NOW), None, UNSET],
    "nbf": [PAST, LATER, "0", 1.5, None, True, UNSET],
    "exp": [PAST, str(SOON), SOON + 0.9, "soon", None, UNSET],
    "jti": [3, None, UNSET],
    "aud": ["", "x", [], ["x"], None],
    "body": [body_hash(BODY).rstrip("="), body_hash(b"x"), body_hash(BODY) + "=", None, 1, UNSET],
}


@st.composite
def near_valid_tokens(draw):
    """A QStash token with a few claims changed, so both outcomes come up often."""
    claims = dict(VALID_CLAIMS)
    for name in draw(st.sets(st.sampled_from(sorted(ODD_VALUES)), max_size=3)):
        claims[name] = draw(st.sampled_from(ODD_VALUES[name]))
    key = draw(st.sampled_from([CURRENT, NEXT, UNKNOWN]))
    algorithm = draw(st.sampled_from(["HS256"] * 5 + ["HS384", "HS512"]))
    return forge_token(URL, BODY, key=key, algorithm=algorithm, **claims)


@hypothesis_settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    token=near_valid_tokens(),
    url=st.sampled_from([URL, URL, None, URL + "/"]),
    body=st.sampled_from([BODY, BODY, BODY + b" ", b""]),
)
def test_random_tokens_agree_with_sdk(token, url, body):
    accepted = ours_accepts(token, body, url)
    event(f"accepted={accepted}")
    assert accepted == sdk_accepts(token, body, url)


@hypothesis_settings(max_examples=200, deadline=None)
@given(url=st.text(min_size=1), body=st.binary(), use_next=st.booleans())
def test_our_signatures_verify_with_sdk_and_ours(url, body, use_next):
    token = sign(key=NEXT if use_next else CURRENT, url=url, body=body)
    assert verify(token=token, body=body, url=url, current_key=CURRENT, next_key=NEXT)["sub"] == url
    try:
        text = body.decode()
    except UnicodeDecodeError:
        return  # the SDK cannot take a body that is not UTF-8 text
    Receiver(CURRENT, NEXT).verify(signature=token, body=text, url=url)


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"exp": PAST}, "expired"),
        ({"nbf": LATER}, "not_yet_valid"),
        ({"iat": LATER}, "not_yet_valid"),
        ({"iss": "x"}, "bad_issuer"),
        ({"aud": "x"}, "bad_audience"),
        ({"sub": UNSET}, "missing_claim"),
        ({"exp": "soon"}, "malformed"),
        ({"body": "nope"}, "bad_body"),
    ],
)
def test_reasons(overrides, reason):
    token = forge_token(URL, BODY, key=CURRENT, **overrides)
    with pytest.raises(SignatureError) as caught:
        verify(token=token, body=BODY, url=URL, current_key=CURRENT, next_key=NEXT)
    assert caught.value.reason == reason


def test_reason_comes_from_the_key_that_signed():
    # Signed with the next key and expired: "expired", not the current key's "invalid_signature".
    token = sign(key=NEXT, url=URL, body=BODY, now=PAST - 400)
    with pytest.raises(SignatureError, match="expired") as caught:
        verify(token=token, body=BODY, url=URL, current_key=CURRENT, next_key=NEXT)
    assert caught.value.reason == "expired"


def test_clock_tolerance_and_injected_clock():
    token = sign(key=CURRENT, url=URL, body=BODY, now=1_000_000, lifetime=300)
    common = {"token": token, "body": BODY, "url": URL, "current_key": CURRENT, "next_key": None}
    assert verify(**common, now=1_000_299)["iat"] == 1_000_000
    with pytest.raises(SignatureError, match="expired"):
        verify(**common, now=1_000_300)
    assert verify(**common, now=1_000_305, clock_tolerance=10)
    with pytest.raises(SignatureError) as caught:
        verify(**common, now=999_990)  # iat in the receiver's future
    assert caught.value.reason == "not_yet_valid"
    assert verify(**common, now=999_990, clock_tolerance=10)


@pytest.mark.parametrize(("token", "current", "reason"),
                         [("", CURRENT, "missing"), ("x.y.z", "", "not_configured")])
def test_missing_token_or_keys(token, current, reason):
    with pytest.raises(SignatureError) as caught:
        verify(token=token, body=b"", url=None, current_key=current, next_key=None)
    assert caught.value.reason == reason
    assert isinstance(caught.value, ValueError)


def test_sign_produces_qstash_shaped_claims():
    import jwt

    token = sign(key=CURRENT, url=URL, body=BODY, now=1_700_000_000, jwt_id="jwt_fixed")
    assert jwt.get_unverified_header(token) == {"alg": "HS256", "typ": "JWT"}
    claims = jwt.decode(token, options={"verify_signature": False})
    assert claims == {"iss": "Upstash", "sub": URL, "iat": 1_700_000_000, "nbf": 0,
                      "exp": 1_700_000_300, "jti": "jwt_fixed", "body": body_hash(BODY)}
    assert sign(key=CURRENT, url=URL, body=BODY).count(".") == 2
    fresh = jwt.decode(sign(key=CURRENT, url=URL, body=BODY), options={"verify_signature": False})
    assert fresh["jti"].startswith("jwt_") and "aud" not in fresh


def test_generated_keys_look_like_upstash_keys():
    key = generate_signing_key()
    assert key.startswith("sig_") and len(key) == 32
    assert generate_signing_key() != key
