"""Every way a delivery can be forged or damaged, against every way a view can be protected."""

from __future__ import annotations

import logging
import time
from types import SimpleNamespace

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

from .conftest import UNSET

pytestmark = pytest.mark.urls("tests.receiver.urls")

BODY = '{"greeting": "grüß dich"}'.encode()

# (path, client): decorator on sync/async function and class views, method_decorator,
# the middleware on its sync and async paths, and the DRF permission.
ENDPOINTS = [
    ("/fn/", "sync"),
    ("/afn/", "sync"),
    ("/afn/", "async"),
    ("/cbv/", "sync"),
    ("/acbv/", "async"),
    ("/md/", "sync"),
    ("/amd/", "async"),
    ("/hooks/sync/", "sync"),
    ("/hooks/async/", "async"),
    ("/drf/", "sync"),
]


def _flip_one_byte(body: bytes) -> bytes:
    middle = len(body) // 2
    return body[:middle] + bytes([body[middle] ^ 0x01]) + body[middle + 1:]


def _tampers(forge, keys, url):
    """name -> (token or None, body actually sent, expected error or None for success)."""
    now = int(time.time())
    return {
        "valid": (forge(url, BODY), BODY, None),
        "body_byte_flipped": (forge(url, BODY), _flip_one_byte(BODY), "bad_body"),
        "wrong_url": (forge("http://testserver/elsewhere/", BODY), BODY, "bad_url"),
        "https_signed": (forge(url.replace("http:", "https:"), BODY), BODY, "bad_url"),
        "expired": (forge(url, BODY, iat=now - 400, exp=now - 100), BODY, "expired"),
        "not_yet_valid": (forge(url, BODY, nbf=now + 600), BODY, "not_yet_valid"),
        "wrong_issuer": (forge(url, BODY, iss="NotUpstash"), BODY, "bad_issuer"),
        "unknown_key": (forge(url, BODY, key=keys.unknown), BODY, "invalid_signature"),
        "next_key_only": (forge(url, BODY, key=keys.next), BODY, None),
        "missing_claim": (forge(url, BODY, nbf=UNSET), BODY, "missing_claim"),
        "malformed": ("not.a.jwt", BODY, "malformed"),
        "missing_header": (None, BODY, "missing"),
        "alg_none": (forge(url, BODY, algorithm="none"), BODY, "bad_algorithm"),
        "alg_hs512": (forge(url, BODY, algorithm="HS512"), BODY, "bad_algorithm"),
        # Times past any calendar: no float, datetime or cache timeout can hold them.
        "exp_huge": (forge(url, BODY, exp=2**1024), BODY, "malformed"),
        "exp_past_year_9999": (forge(url, BODY, exp=10**12), BODY, "malformed"),
        "iat_huge": (forge(url, BODY, iat=2**1024), BODY, "malformed"),
        "nbf_huge_negative": (forge(url, BODY, nbf=-(2**1024)), BODY, "malformed"),
        "exp_float_overflow": (forge(url, BODY, exp=1e308), BODY, "malformed"),
    }


TAMPER_NAMES = list(_tampers(lambda *a, **k: "", SimpleNamespace(unknown="", next=""), "http://x/"))


def send(path: str, mode: str, body: bytes, token: str | None):
    headers = {"Upstash-Signature": token} if token else {}
    if mode == "async":
        return async_to_sync(AsyncClient().post)(
            path, body, content_type="application/json", headers=headers
        )
    return Client().post(path, body, content_type="application/json", headers=headers)


@pytest.mark.parametrize("tamper", TAMPER_NAMES)
@pytest.mark.parametrize(("path", "mode"), ENDPOINTS)
def test_tamper_matrix(keys, forge, path, mode, tamper):
    url = "http://testserver" + path
    token, body, expected_error = _tampers(forge, keys, url)[tamper]
    response = send(path, mode, body, token)
    if expected_error is None:
        assert response.status_code == 200, response.content
        assert response.json()["ok"] is True
        assert response.json()["sub"] == url
    else:
        assert response.status_code == 401, response.content
        assert response.json() == {"error": expected_error}


def test_rejection_is_logged_with_detail(keys, forge, caplog):
    token = forge("http://testserver/elsewhere/", BODY)
    with caplog.at_level(logging.WARNING, logger="django_qstash.receiver"):
        response = send("/fn/", "sync", BODY, token)
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Upstash-Signature"
    [record] = [r for r in caplog.records if r.name == "django_qstash.receiver"]
    assert record.levelno == logging.WARNING
    assert record.reason == "bad_url"
    assert "http://testserver/elsewhere/" in record.getMessage()


def test_unprotected_path_is_untouched(keys):
    assert Client().post("/open/", BODY, content_type="application/json").status_code == 200


def test_middleware_and_decorator_on_one_path_verify_once(keys, forge):
    # /hooks/both/ is under PROTECTED_PATHS and decorated: the second check must not see a
    # replay of the token the first one recorded.
    url = "http://testserver/hooks/both/"
    assert send("/hooks/both/", "sync", BODY, forge(url, BODY)).status_code == 200
    assert send("/hooks/both/", "async", BODY, forge(url, BODY)).status_code == 200
