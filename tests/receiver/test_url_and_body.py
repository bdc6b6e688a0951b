"""Which URL the signature must name (proxies, canonical base, query, slash) and raw bodies."""

from __future__ import annotations

import base64
import hashlib

import pytest
from django.test import Client

from django_qstash.core.signing import body_hash

pytestmark = pytest.mark.urls("tests.receiver.urls")

PROXY_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")


def post(path: str, token: str, body: bytes = b"{}", **extra):
    # A Host header, as every proxy forwards: without one Django would add SERVER_PORT (80)
    # to an https URL.
    extra.setdefault("HTTP_HOST", "testserver")
    return Client().post(path, body, content_type="application/json",
                         HTTP_UPSTASH_SIGNATURE=token, **extra)


@pytest.mark.parametrize("path", ["/fn/", "/hooks/sync/", "/drf/"])
def test_https_behind_proxy_with_secure_proxy_header(keys, forge, settings, path):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER
    token = forge("https://testserver" + path, b"{}")
    response = post(path, token, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/fn/", "/hooks/sync/", "/drf/"])
def test_https_behind_proxy_without_secure_proxy_header(keys, forge, settings, path):
    # Django then believes the request is plain http, which is not what QStash signed.
    settings.SECURE_PROXY_SSL_HEADER = None
    token = forge("https://testserver" + path, b"{}")
    response = post(path, token, HTTP_X_FORWARDED_PROTO="https")
    assert response.status_code == 401
    assert response.json() == {"error": "bad_url"}


def test_http_signature_rejected_when_proxy_says_https(keys, forge, settings):
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER
    token = forge("http://testserver/fn/", b"{}")
    assert post("/fn/", token, HTTP_X_FORWARDED_PROTO="https").json() == {"error": "bad_url"}


def test_forwarded_host_honoured_only_when_enabled(keys, forge, settings):
    token = forge("http://public.example.com/fn/", b"{}")
    assert post("/fn/", token, HTTP_X_FORWARDED_HOST="public.example.com").status_code == 401
    settings.USE_X_FORWARDED_HOST = True
    token = forge("http://public.example.com/fn/", b"{}")
    assert post("/fn/", token, HTTP_X_FORWARDED_HOST="public.example.com").status_code == 200


@pytest.mark.parametrize("base", ["https://hooks.example.com", "https://hooks.example.com/"])
def test_canonical_base_url_replaces_request_host_and_scheme(keys, forge, settings, base):
    settings.QSTASH = {**settings.QSTASH, "CANONICAL_BASE_URL": base}
    assert post("/fn/?a=1", forge("https://hooks.example.com/fn/?a=1", b"{}")).status_code == 200
    assert post("/fn/", forge("http://testserver/fn/", b"{}")).json() == {"error": "bad_url"}
    # Proxy headers no longer matter either.
    settings.SECURE_PROXY_SSL_HEADER = PROXY_HEADER
    token = forge("http://testserver/fn/", b"{}")
    assert post("/fn/", token, HTTP_X_FORWARDED_PROTO="https").status_code == 401


def test_canonical_base_url_with_path_prefix(keys, forge, settings):
    settings.QSTASH = {**settings.QSTASH, "CANONICAL_BASE_URL": "https://example.com/api"}
    assert post("/fn/", forge("https://example.com/api/fn/", b"{}")).status_code == 200


def test_query_string_is_part_of_the_url(keys, forge):
    assert post("/fn/?a=1&b=2", forge("http://testserver/fn/?a=1&b=2", b"{}")).status_code == 200
    assert post("/fn/?a=1", forge("http://testserver/fn/", b"{}")).json() == {"error": "bad_url"}
    assert post("/fn/", forge("http://testserver/fn/?a=1", b"{}")).json() == {"error": "bad_url"}


def test_trailing_slash_must_match_exactly(keys, forge):
    # Both official SDKs compare sub == url exactly.
    assert post("/fn/", forge("http://testserver/fn", b"{}")).json() == {"error": "bad_url"}


NON_UTF8 = b"\xff\xfe\x00\x80binary\xc3\x28 payload\x00"


@pytest.mark.parametrize("path", ["/fn/", "/afn/", "/hooks/sync/"])
def test_non_utf8_body_verified_byte_exact(keys, forge, path):
    token = forge("http://testserver" + path, NON_UTF8)
    response = Client().post(path, NON_UTF8, content_type="application/octet-stream",
                             HTTP_UPSTASH_SIGNATURE=token)
    assert response.status_code == 200
    assert response.json()["size"] == len(NON_UTF8)
    tampered = NON_UTF8[:-1] + b"\x01"
    response = Client().post(path, tampered, content_type="application/octet-stream",
                             HTTP_UPSTASH_SIGNATURE=token)
    assert response.json() == {"error": "bad_body"}


def test_body_hash_is_padded_base64url_sha256():
    expected = base64.urlsafe_b64encode(hashlib.sha256(NON_UTF8).digest()).decode()
    assert body_hash(NON_UTF8) == expected
    assert body_hash(b"").endswith("=")
    assert body_hash(b"") == "47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="


def test_form_body_still_parses_after_verification(keys, forge):
    body = b"a=1&b=two"
    token = forge("http://testserver/drf/", body)
    response = Client().post("/drf/", body, content_type="application/x-www-form-urlencoded",
                             HTTP_UPSTASH_SIGNATURE=token)
    assert response.status_code == 200
    assert response.json()["data"] == {"a": "1", "b": "two"}


def test_json_body_still_parses_for_drf(keys, forge):
    body = b'{"n": 1}'
    response = post("/drf/", forge("http://testserver/drf/", body), body)
    assert response.json() == {"ok": True, "sub": "http://testserver/drf/", "data": {"n": 1}}
