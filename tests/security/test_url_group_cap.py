"""A URL group holds at most MAX_URL_GROUP_ENDPOINTS endpoints, through the API and the admin."""

from __future__ import annotations

import json

import pytest

from django_qstash.conf import DEFAULTS
from django_qstash.models import ApiToken, UrlGroup, UrlGroupEndpoint


@pytest.fixture
def tenant(db):
    from django_qstash.engine.tenants import create_tenant

    return create_tenant("fanout")


@pytest.fixture
def auth(tenant):
    _, secret = ApiToken.issue(tenant, name="rw")
    return {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def add(client, auth, group: str, *urls: str):
    body = {"endpoints": [{"url": url} for url in urls]}
    return client.post(f"/v2/topics/{group}/endpoints", json.dumps(body),
                       content_type="application/json", **auth)


def urls(count: int, start: int = 0) -> list[str]:
    return [f"https://hooks.example.com/{n}" for n in range(start, start + count)]


def test_the_default_cap_refuses_a_group_of_300(client, auth):
    assert DEFAULTS["MAX_URL_GROUP_ENDPOINTS"] == 100
    response = add(client, auth, "wide", *urls(300))
    assert response.status_code == 400
    assert "MAX_URL_GROUP_ENDPOINTS" in response.json()["error"]
    assert not UrlGroup.objects.exists() and not UrlGroupEndpoint.objects.exists()
    assert add(client, auth, "wide", *urls(100)).status_code == 200


def test_adding_past_the_cap_keeps_the_group_as_it_was(client, auth, settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_URL_GROUP_ENDPOINTS": 3}
    assert add(client, auth, "g", *urls(2)).status_code == 200
    refused = add(client, auth, "g", *urls(2, start=2))  # 4 in all
    assert refused.status_code == 400 and refused.json()["error"].startswith("URL group 'g'")
    assert UrlGroupEndpoint.objects.count() == 2
    # Updating endpoints it already has, or the same URL twice, adds nothing.
    assert add(client, auth, "g", *urls(2), urls(1)[0]).status_code == 200
    assert add(client, auth, "g", *urls(1, start=2)).status_code == 200
    assert UrlGroupEndpoint.objects.count() == 3


def test_the_admin_refuses_more_endpoints_than_the_cap(admin_client, tenant, settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_URL_GROUP_ENDPOINTS": 2}
    data = {"tenant": tenant.pk, "name": "fanout", "default_headers": "{}", "_save": "Save",
            "endpoints-TOTAL_FORMS": 3, "endpoints-INITIAL_FORMS": 0}
    for n, url in enumerate(urls(3)):
        data[f"endpoints-{n}-url"], data[f"endpoints-{n}-name"] = url, ""
    page = admin_client.post("/admin/django_qstash/urlgroup/add/", data)
    assert page.status_code == 200 and "Please submit at most 2" in page.content.decode()
    assert not UrlGroup.objects.exists()
    data["endpoints-TOTAL_FORMS"] = 2
    assert admin_client.post("/admin/django_qstash/urlgroup/add/", data).status_code == 302
    assert UrlGroupEndpoint.objects.count() == 2
