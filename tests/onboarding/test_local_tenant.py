"""A project that is both server and receiver verifies its own deliveries without copying keys."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import Client

from django_qstash.core.signing import sign
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import SigningKeyPair

HOOK = "http://testserver/fn/"
pytestmark = pytest.mark.urls("tests.receiver.urls")


def _signed_post(key: str, body: bytes = b'{"paid": true}'):
    token = sign(key=key, url=HOOK, body=body)
    return Client().post("/fn/", body, content_type="application/json",
                         HTTP_UPSTASH_SIGNATURE=token)


@pytest.fixture
def local_tenant(db, settings):
    settings.QSTASH = {**settings.QSTASH, "LOCAL_TENANT": "default",
                       "CURRENT_SIGNING_KEY": None, "NEXT_SIGNING_KEY": None}
    return create_tenant("default")


def test_without_a_key_the_receiver_uses_the_local_tenants_keys(local_tenant, monkeypatch):
    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("QSTASH_NEXT_SIGNING_KEY", raising=False)
    keys = SigningKeyPair.for_tenant(local_tenant)
    assert _signed_post(keys.current).status_code == 200
    assert _signed_post(keys.next).status_code == 200
    other = create_tenant("other")
    response = _signed_post(SigningKeyPair.for_tenant(other).current)
    assert response.status_code == 401 and response.json() == {"error": "invalid_signature"}


def test_rotation_is_seen_at_once(local_tenant, monkeypatch):
    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("QSTASH_NEXT_SIGNING_KEY", raising=False)
    keys = SigningKeyPair.for_tenant(local_tenant)
    old_current = keys.current
    keys.rotate()
    assert _signed_post(keys.next).status_code == 200
    assert _signed_post(old_current).status_code == 401


def test_a_configured_key_wins_over_the_local_tenant(local_tenant, settings):
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": "sig_" + "k" * 28}
    keys = SigningKeyPair.for_tenant(local_tenant)
    assert _signed_post(keys.current).status_code == 401
    assert _signed_post("sig_" + "k" * 28).status_code == 200


def test_publishing_through_the_client_reaches_the_own_view(local_tenant, monkeypatch):
    """The Python client signs with the default tenant's keys; the receiver reads the same."""
    from django_qstash.client import publish_json
    from django_qstash.models import Message

    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    # Delayed: it stays a row here (the real delivery is in test_own_project.py).
    message_id = publish_json("http://testserver/fn/", {"order": 7}, delay="1h")
    message = Message.objects.get(pk=message_id)
    keys = SigningKeyPair.for_tenant(message.tenant)
    token = sign(key=keys.current, url=message.url, body=bytes(message.body))
    response = Client().post("/fn/", bytes(message.body), content_type="application/json",
                             HTTP_UPSTASH_SIGNATURE=token)
    assert response.status_code == 200


def test_qstash_keys_prints_a_tenants_keys(db):
    tenant = create_tenant("acme")
    keys = SigningKeyPair.for_tenant(tenant)
    out = StringIO()
    call_command("qstash_keys", "--tenant", "acme", stdout=out)
    assert out.getvalue().splitlines() == [f"QSTASH_CURRENT_SIGNING_KEY={keys.current}",
                                           f"QSTASH_NEXT_SIGNING_KEY={keys.next}"]
    with pytest.raises(CommandError, match="unknown tenant 'nope'"):
        call_command("qstash_keys", "--tenant", "nope", stdout=StringIO())


def test_qstash_keys_defaults_to_the_default_tenant_and_creates_it(db):
    out = StringIO()
    call_command("qstash_keys", stdout=out)
    keys = SigningKeyPair.objects.get(tenant__name="default")
    assert f"QSTASH_CURRENT_SIGNING_KEY={keys.current}" in out.getvalue()


def test_local_tenant_must_be_a_string(settings):
    from django_qstash.receiver.checks import check_receiver_settings

    settings.QSTASH = {**settings.QSTASH, "LOCAL_TENANT": 7}
    assert "django_qstash.E107" in [m.id for m in check_receiver_settings()]


def test_the_dev_server_signs_with_the_keys_in_qstash_settings(db, settings, tmp_path,
                                                              monkeypatch):
    from django_qstash.devserver.credentials import load_or_create

    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("QSTASH_NEXT_SIGNING_KEY", raising=False)
    current, nxt = "sig_" + "c" * 28, "sig_" + "n" * 28
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": current,
                       "NEXT_SIGNING_KEY": nxt}
    credentials = load_or_create(tmp_path / "state.json")
    assert (credentials.current_key, credentials.next_key) == (current, nxt)
    keys = SigningKeyPair.objects.get(tenant__name="default")
    assert (keys.current, keys.next) == (current, nxt)


@pytest.mark.django_db(transaction=True)
def test_async_views_read_the_local_tenants_keys_too(settings, monkeypatch):
    from asgiref.sync import async_to_sync
    from django.test import AsyncClient

    monkeypatch.delenv("QSTASH_CURRENT_SIGNING_KEY", raising=False)
    monkeypatch.delenv("QSTASH_NEXT_SIGNING_KEY", raising=False)
    settings.QSTASH = {**settings.QSTASH, "LOCAL_TENANT": "default",
                       "CURRENT_SIGNING_KEY": None, "NEXT_SIGNING_KEY": None}
    keys = SigningKeyPair.for_tenant(create_tenant("default"))
    body = b'{"async": true}'
    token = sign(key=keys.current, url="http://testserver/afn/", body=body)
    response = async_to_sync(AsyncClient().post)(
        "/afn/", body, content_type="application/json", headers={"Upstash-Signature": token})
    assert response.status_code == 200


def test_local_tenant_needs_the_server_app(settings):
    from django_qstash.receiver.checks import check_receiver_settings

    settings.QSTASH = {**settings.QSTASH, "LOCAL_TENANT": "default"}
    assert "django_qstash.E108" not in [m.id for m in check_receiver_settings()]
    settings.INSTALLED_APPS = [a for a in settings.INSTALLED_APPS if a != "django_qstash"]
    assert "django_qstash.E108" in [m.id for m in check_receiver_settings()]
