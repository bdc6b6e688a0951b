"""Replay protection through the cache, CSRF exemption, and what the view gets to see."""

from __future__ import annotations

import time

import pytest
from asgiref.sync import async_to_sync
from django.core.cache import cache
from django.test import AsyncClient, Client

from django_qstash.core.signing import sign
from django_qstash.receiver import verification

pytestmark = pytest.mark.urls("tests.receiver.urls")


def post(path, token, client=None):
    client = client or Client()
    return client.post(path, b"{}", content_type="application/json", HTTP_UPSTASH_SIGNATURE=token)


def apost(path, token):
    return async_to_sync(AsyncClient().post)(
        path, b"{}", content_type="application/json", headers={"Upstash-Signature": token}
    )


@pytest.mark.parametrize("path", ["/fn/", "/cbv/", "/hooks/sync/", "/drf/"])
def test_second_sighting_of_a_token_is_rejected(keys, forge, path):
    token = forge("http://testserver" + path, b"{}")
    assert post(path, token).status_code == 200
    response = post(path, token)
    assert response.status_code == 401
    assert response.json() == {"error": "replayed"}


@pytest.mark.parametrize("path", ["/afn/", "/acbv/", "/amd/", "/hooks/async/"])
def test_replay_rejected_on_async_paths(keys, forge, path):
    token = forge("http://testserver" + path, b"{}")
    assert apost(path, token).status_code == 200
    assert apost(path, token).json() == {"error": "replayed"}


def test_replay_entry_expires_with_the_token(keys, settings):
    settings.QSTASH = {**settings.QSTASH, "CLOCK_TOLERANCE_SECONDS": 5}
    key, timeout = verification._replay_entry({"jti": "jwt_x", "exp": int(time.time()) + 100})
    assert key.startswith(verification.REPLAY_KEY_PREFIX)
    assert 103 <= timeout <= 105  # seconds the token stays valid, plus the tolerance
    _, short = verification._replay_entry({"jti": "jwt_x", "exp": 0})
    assert short == 1


def test_tokens_without_jti_are_still_remembered(keys, forge):
    from .conftest import UNSET

    token = forge("http://testserver/fn/", b"{}", jti=UNSET)
    assert post("/fn/", token).status_code == 200
    assert post("/fn/", token).json() == {"error": "replayed"}


def test_replay_protection_off(keys, forge, settings):
    settings.QSTASH = {**settings.QSTASH, "REPLAY_PROTECTION": False}
    token = forge("http://testserver/fn/", b"{}")
    assert post("/fn/", token).status_code == 200
    assert post("/fn/", token).status_code == 200


def test_automatic_replay_protection_skips_dummy_cache(keys, forge, settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
    assert verification.replay_cache() is None
    token = forge("http://testserver/fn/", b"{}")
    assert post("/fn/", token).status_code == 200
    assert post("/fn/", token).status_code == 200


def test_replay_cache_alias_is_used(keys, settings):
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "replay": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache",
                   "LOCATION": "replay"},
    }
    settings.QSTASH = {**settings.QSTASH, "REPLAY_CACHE_ALIAS": "replay"}
    token = sign(key=keys.current, url="http://testserver/fn/", body=b"{}")
    assert post("/fn/", token).status_code == 200
    from django.core.cache import caches

    assert any(k for k in caches["replay"]._cache if verification.REPLAY_KEY_PREFIX in k)
    assert not any(verification.REPLAY_KEY_PREFIX in k for k in cache._cache)


@pytest.mark.parametrize("path", ["/fn/", "/afn/", "/cbv/", "/acbv/", "/md/", "/amd/",
                                  "/hooks/sync/", "/drf/"])
def test_signed_requests_pass_enforced_csrf(keys, forge, path):
    client = Client(enforce_csrf_checks=True)
    response = post(path, forge("http://testserver" + path, b"{}"), client)
    assert response.status_code == 200, response.content


@pytest.mark.parametrize("path", ["/afn/", "/acbv/", "/amd/", "/hooks/async/"])
def test_signed_requests_pass_enforced_csrf_on_async_paths(keys, forge, path):
    client = AsyncClient(enforce_csrf_checks=True)
    token = forge("http://testserver" + path, b"{}")
    response = async_to_sync(client.post)(path, b"{}", content_type="application/json",
                                          headers={"Upstash-Signature": token})
    assert response.status_code == 200, response.content


def test_csrf_still_enforced_on_unprotected_paths(keys):
    response = Client(enforce_csrf_checks=True).post("/open/", b"{}",
                                                     content_type="application/json")
    assert response.status_code == 403


def test_view_never_runs_on_failure(keys, forge, monkeypatch):
    from . import urls

    calls = []
    monkeypatch.setattr(urls, "_echo", lambda request: calls.append(request))
    assert post("/fn/", forge("http://testserver/other/", b"{}")).status_code == 401
    assert post("/hooks/sync/", "garbage").status_code == 401
    assert calls == []


def test_async_middleware_uses_the_async_path(keys, forge, monkeypatch):
    from django_qstash.receiver import middleware

    seen = []
    original = middleware.averify_request

    async def spy(request):
        seen.append(request.path)
        return await original(request)

    monkeypatch.setattr(middleware, "averify_request", spy)
    monkeypatch.setattr(middleware, "verify_request", None)  # the sync path must not run
    token = forge("http://testserver/hooks/async/", b"{}")
    assert apost("/hooks/async/", token).status_code == 200
    assert seen == ["/hooks/async/"]


def test_missing_keys_reject_and_log_error(settings, caplog, monkeypatch):
    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("QSTASH_NEXT_SIGNING_KEY", raising=False)
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": None, "NEXT_SIGNING_KEY": None}
    response = post("/fn/", "a.b.c")
    assert response.json() == {"error": "not_configured"}
    assert any(r.levelname == "ERROR" and r.reason == "not_configured" for r in caplog.records)


def test_keys_fall_back_to_environment(settings, monkeypatch):
    from django_qstash.conf import qstash_settings
    from django_qstash.core.signing import generate_signing_key

    key = generate_signing_key()
    monkeypatch.setenv("QSTASH_CURRENT_SIGNING_KEY", key)
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": None}
    qstash_settings.reload()
    try:
        token = sign(key=key, url="http://testserver/fn/", body=b"{}")
        assert post("/fn/", token).status_code == 200
    finally:
        qstash_settings.reload()
