"""Authentication, tenancy and bad input: every rejection is a 4xx with {"error": ...}."""

from __future__ import annotations

from types import ModuleType

import pytest
from django.urls import clear_url_caches, include
from django.urls import path as route

from django_qstash.models import ApiToken
from tests.e2e.helpers import api, publish
from tests.support import http_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_missing_and_wrong_tokens_get_401(qstash):
    missing = http_client.get(qstash.url + "/v2/events")
    wrong = http_client.get(qstash.url + "/v2/events", headers={"Authorization": "Bearer nope"})
    for response in (missing, wrong):
        assert response.status_code == 401 and "error" in response.json()


def test_token_in_query_parameter(qstash, sink):
    response = http_client.post(f"{qstash.url}/v2/publish/{sink.url}/q?qstash_token={qstash.token}",
                                content=b"x")
    assert response.status_code == 200, response.text
    [arrival] = sink.wait_for(1, "/q")
    assert arrival.path == "/q"  # our own parameter is not forwarded


def test_read_only_token_reads_but_cannot_publish(qstash, sink):
    _, secret = ApiToken.issue(qstash.tenant, read_only=True)
    headers = {"Authorization": f"Bearer {secret}"}
    assert http_client.get(qstash.url + "/v2/dlq", headers=headers).status_code == 200
    denied = http_client.post(f"{qstash.url}/v2/publish/{sink.url}", headers=headers, content=b"x")
    assert denied.status_code == 403 and "error" in denied.json()


def test_tenants_do_not_see_each_other(qstash, other_tenant, sink):
    message_id = publish(qstash, f"{sink.url}/mine", "x", Upstash_Delay="1h")
    other = {"Authorization": f"Bearer {other_tenant.token}"}
    assert http_client.get(f"{qstash.url}/v2/messages/{message_id}", headers=other).status_code == 404
    assert http_client.delete(f"{qstash.url}/v2/messages/{message_id}", headers=other).status_code == 404
    assert http_client.get(f"{qstash.url}/v2/events", headers=other).json()["events"] == []
    assert http_client.get(f"{qstash.url}/v2/keys", headers=other).json()["current"] != qstash.current_key


@pytest.mark.parametrize("headers, fragment", [
    ({"Upstash-Delay": "soon"}, "Upstash-Delay"),
    ({"Upstash-Retries": "-1"}, "Upstash-Retries"),
    ({"Upstash-Retries": "1000"}, "Upstash-Retries"),
    ({"Upstash-Method": "BREW"}, "Upstash-Method"),
    ({"Upstash-Retry-Delay": "__import__('os')"}, "Upstash-Retry-Delay"),
    ({"Upstash-Timeout": "0s"}, "Upstash-Timeout"),
    ({"Upstash-Callback": "ftp://x"}, "Upstash-Callback"),
    ({"Upstash-Callback": "http://x", "Upstash-Callback-Delay": "1s"}, "Delay"),
    ({"Upstash-Content-Based-Deduplication": "maybe"}, "Deduplication"),
    ({"Upstash-Flow-Control-Key": "k", "Upstash-Flow-Control-Value": "speed=3"}, "speed"),
    ({"Upstash-Redact-Fields": "password"}, "Redact"),
])
def test_bad_headers_are_400_with_a_reason(qstash, sink, headers, fragment):
    response = api(qstash, "POST", f"/v2/publish/{sink.url}", content=b"x", headers=headers)
    assert response.status_code == 400, response.text
    assert fragment in response.json()["error"]


def test_unknown_url_group_and_bad_name(qstash):
    assert api(qstash, "POST", "/v2/publish/no-such-group", content=b"x").status_code == 404
    assert api(qstash, "POST", "/v2/publish/bad name!", content=b"x").status_code == 400


def test_body_over_the_limit_is_413(qstash, sink, settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_BODY_BYTES": 1000}
    response = api(qstash, "POST", f"/v2/publish/{sink.url}", content=b"x" * 1001)
    assert response.status_code == 413 and "error" in response.json()


def test_unknown_ids_are_404(qstash):
    for method, path in [("GET", "/v2/messages/msg_nope"), ("DELETE", "/v2/messages/msg_nope"),
                         ("GET", "/v2/dlq/1-0"), ("DELETE", "/v2/dlq/1-0"),
                         ("POST", "/v2/dlq/retry/1-0")]:
        response = api(qstash, method, path)
        assert response.status_code == 404 and "error" in response.json(), path


def test_invalid_json_and_unknown_filters_are_400(qstash):
    bad_json = api(qstash, "POST", "/v2/batch", content=b"{not json",
                   headers={"Content-Type": "application/json"})
    assert bad_json.status_code == 400
    assert api(qstash, "DELETE", "/v2/dlq", params={"labeel": "x"}).status_code == 400
    assert api(qstash, "GET", "/v2/events", params={"cursor": "abc"}).status_code == 400
    assert api(qstash, "GET", "/v2/events", params={"state": "SLEEPING"}).status_code == 400


@pytest.mark.parametrize("destination", ["ftp://example.com/file", "ws://example.com/socket",
                                         "HTTPS://example.com/"])
def test_a_url_of_another_scheme_is_refused_as_a_url(qstash, destination):
    response = http_client.post(f"{qstash.url}/v2/publish/{destination}", content=b"x",
                                headers={"Authorization": f"Bearer {qstash.token}"})
    assert response.status_code == 400
    assert "http(s) URL" in response.json()["error"], response.text


@pytest.mark.parametrize("host", ["P|", "bad host", "x/y"])
def test_a_host_header_django_refuses_gets_a_json_400_on_the_api(client, host):
    """Django refuses these before any view runs; the API still answers {"error": ...}."""
    response = client.post("/v2/publish/https://example.com/x", b"x",
                           content_type="text/plain", HTTP_HOST=host)
    assert response.status_code == 400
    assert "HTTP_HOST" in response.json()["error"]


def test_a_host_header_django_refuses_keeps_djangos_page_outside_the_api(client):
    response = client.get("/admin/", HTTP_HOST="P|")
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")


@pytest.fixture
def api_under_prefix(settings):
    """A project that mounts the API under /qstash/ (its QSTASH_URL ends in /qstash)."""
    module = ModuleType("urls_with_the_api_under_a_prefix")
    module.urlpatterns = [route("qstash/", include("django_qstash.urls"))]
    module.handler400 = "django_qstash.api.errors.bad_request"
    settings.ROOT_URLCONF = module
    clear_url_caches()
    yield
    clear_url_caches()


@pytest.mark.parametrize("route", ["/qstash/v2/publish/https://example.com/x",
                                   "/qstash/v2/no-such-endpoint"])
def test_a_refused_host_gets_json_wherever_the_api_is_mounted(client, api_under_prefix, route):
    response = client.post(route, b"x", content_type="text/plain", HTTP_HOST="P|")
    assert response.status_code == 400
    assert "HTTP_HOST" in response.json()["error"]


def test_a_refused_host_outside_a_prefixed_api_keeps_djangos_page(client, api_under_prefix):
    response = client.get("/v2/keys", HTTP_HOST="P|")  # not the API in this project
    assert response.status_code == 400
    assert response["Content-Type"].startswith("text/html")
