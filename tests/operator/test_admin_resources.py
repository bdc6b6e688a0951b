"""Admin for queues, flow-control keys, URL groups, signing keys, API tokens and tenants."""

from __future__ import annotations

import re

from django_qstash.core import api_tokens
from django_qstash.models import (
    ApiToken,
    FlowControlKey,
    Queue,
    SigningKeyPair,
    Tenant,
    UrlGroup,
    hash_token,
)

from .factories import make_message

ADMIN = "/admin/django_qstash"


def act(client, model: str, action: str, *objects, **extra):
    return client.post(f"{ADMIN}/{model}/", {"action": action,
                                             "_selected_action": [o.pk for o in objects],
                                             **extra}, follow=True)


def test_queue_list_shows_lag_and_pause_resume(admin_client, tenant):
    queue = Queue.objects.create(tenant=tenant, name="orders", parallelism=2)
    for status in ("pending", "active", "delivered"):
        make_message(tenant, status=status, queue_name="orders")
    page = admin_client.get(f"{ADMIN}/queue/").content.decode()
    assert re.search(r'<td class="field-lag">2</td>', page), page
    assert "Paused 1 queues" in act(admin_client, "queue", "pause", queue).content.decode()
    assert Queue.objects.get().paused is True
    act(admin_client, "queue", "resume", queue)
    assert Queue.objects.get().paused is False


def test_queue_form_validates_name_and_parallelism(admin_client, tenant):
    data = {"tenant": tenant.pk, "name": "bad name", "parallelism": 0, "_save": "Save"}
    page = admin_client.post(f"{ADMIN}/queue/add/", data).content.decode()
    assert "may contain only" in page and "must be from 1" in page
    data.update(name="good", parallelism=5)
    assert admin_client.post(f"{ADMIN}/queue/add/", data).status_code == 302
    assert Queue.objects.get().parallelism == 5


def test_flow_control_actions_and_waitlist(admin_client, tenant):
    key = FlowControlKey.objects.create(tenant=tenant, key="k", parallelism_max=2,
                                        recent_starts=[1.0])
    make_message(tenant, status="pending", flow_control_key="k")
    make_message(tenant, status="active", flow_control_key="k")
    page = admin_client.get(f"{ADMIN}/flowcontrolkey/").content.decode()
    assert '<td class="field-waitlist">1</td>' in page
    assert '<td class="field-in_flight">1</td>' in page
    for action, field, value in (("pause", "paused", True), ("resume", "paused", False),
                                 ("pin", "pinned_rate", True), ("unpin", "pinned_rate", False),
                                 ("reset_rate", "recent_starts", [])):
        act(admin_client, "flowcontrolkey", action, key)
        assert getattr(FlowControlKey.objects.get(), field) == value, action
    response = admin_client.post(f"{ADMIN}/flowcontrolkey/{key.pk}/change/", {
        "parallelism_max": 7, "rate_max": "", "rate_period": 1, "pinned_parallelism": "on",
        "_save": "Save"})
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.parallelism_max == 7 and key.pinned_parallelism is True


def test_url_group_with_inline_endpoints(admin_client, tenant):
    data = {"tenant": tenant.pk, "name": "fanout", "default_headers": "{}", "_save": "Save",
            "endpoints-TOTAL_FORMS": 2, "endpoints-INITIAL_FORMS": 0,
            "endpoints-0-url": "https://a.example.com/hook", "endpoints-0-name": "a",
            "endpoints-1-url": "ftp://nope", "endpoints-1-name": ""}
    page = admin_client.post(f"{ADMIN}/urlgroup/add/", data).content.decode()
    assert "must be an http(s) URL" in page and not UrlGroup.objects.exists()
    data["endpoints-1-url"] = "https://b.example.com/hook"
    assert admin_client.post(f"{ADMIN}/urlgroup/add/", data).status_code == 302
    group = UrlGroup.objects.get()
    assert [e.url for e in group.endpoints.all()] == ["https://a.example.com/hook",
                                                      "https://b.example.com/hook"]
    assert '<td class="field-endpoint_count">2</td>' in admin_client.get(
        f"{ADMIN}/urlgroup/").content.decode()


def test_rotate_signing_keys(admin_client, tenant):
    before = SigningKeyPair.objects.get(tenant=tenant)
    response = act(admin_client, "signingkeypair", "rotate", before)
    assert "Rotated the signing keys of 1 tenants" in response.content.decode()
    after = SigningKeyPair.objects.get(tenant=tenant)
    assert after.current == before.next and after.next != before.next


def test_token_secret_is_shown_once_and_revoke_works(admin_client, tenant, client):
    response = admin_client.post(f"{ADMIN}/apitoken/add/", {"tenant": tenant.pk, "name": "ci",
                                                            "_save": "Save"}, follow=True)
    page = response.content.decode()
    secret = re.search(r"shown again: ([A-Za-z0-9+/=]+)", page).group(1)
    token = ApiToken.objects.get(name="ci")
    assert token.token_hash == hash_token(secret)
    assert token.prefix == api_tokens.shown_prefix(secret)
    assert api_tokens.account_id_of(secret) == tenant.account_id
    assert secret not in admin_client.get(f"{ADMIN}/apitoken/{token.pk}/change/").content.decode()
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.get("/v2/keys", **auth).status_code == 200
    act(admin_client, "apitoken", "revoke", token)
    assert ApiToken.objects.get(pk=token.pk).revoked_at is not None
    assert client.get("/v2/keys", **auth).status_code == 401
    page = admin_client.get(f"{ADMIN}/apitoken/?revoked=yes").content.decode()
    assert token.prefix in page


def test_tenant_created_in_admin_gets_signing_keys(admin_client, db):
    assert admin_client.post(f"{ADMIN}/tenant/add/", {"name": "fresh", "_save": "Save"}
                             ).status_code == 302
    assert SigningKeyPair.objects.filter(tenant=Tenant.objects.get(name="fresh")).exists()


def test_every_list_page_renders(admin_client, tenant):
    for model in ("message", "dlqentry", "event", "queue", "flowcontrolkey", "urlgroup",
                  "signingkeypair", "apitoken", "tenant", "schedule"):
        assert admin_client.get(f"{ADMIN}/{model}/").status_code == 200, model


def test_url_group_default_headers_refuse_a_lone_surrogate(admin_client, tenant):
    data = {"tenant": tenant.pk, "name": "escaped", "_save": "Save",
            "default_headers": '{"Upstash-Forward-X": "v\\ud800"}',
            "endpoints-TOTAL_FORMS": 1, "endpoints-INITIAL_FORMS": 0,
            "endpoints-0-url": "https://a.example.com/hook", "endpoints-0-name": "a"}
    response = admin_client.post(f"{ADMIN}/urlgroup/add/", data)
    assert response.status_code == 200 and "lone surrogate" in response.content.decode()
    assert not UrlGroup.objects.exists()
