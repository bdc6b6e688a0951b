"""CR, LF, NUL and other control characters in a header are refused on every way in, as a 4xx
naming the header; hop-by-hop headers typed into an admin form are dropped like the API drops them.
"""

from __future__ import annotations

import json

import pytest
from django.test import Client

from django_qstash import client as qstash_client
from django_qstash.core.request_headers import parse_publish_headers
from django_qstash.engine.dlq_operations import parse_header_lines
from django_qstash.engine.tenants import create_tenant
from django_qstash.exceptions import BadRequest
from django_qstash.models import ApiToken, DlqEntry, Message, Schedule, UrlGroup
from tests.operator.factories import make_dlq

DEST = "https://example.com/hook"
INJECTED = ["a\r\nX-Evil: 1", "a\nX-Evil: 1", "a\rb", "a\x00b", "a\x01b", "a\x7fb"]
BAD_NAMES = ["X-Evil\r\nHost", "X Space", "X:Colon", "X\x00Nul"]


@pytest.fixture
def tenant(db):
    return create_tenant("injection")


@pytest.fixture
def api(tenant):
    _, token = ApiToken.issue(tenant)
    return Client(headers={"Authorization": f"Bearer {token}"})


def assert_refused(response, fragment: str) -> None:
    assert response.status_code == 400, response.content
    assert fragment.lower() in response.json()["error"].lower(), response.json()
    assert not Message.objects.exists()


@pytest.mark.parametrize("value", INJECTED)
@pytest.mark.parametrize("name", ["Upstash-Forward-X-Note", "Upstash-Callback-Forward-X-Note",
                                  "Upstash-Failure-Callback-Forward-X-Note", "Content-Type"])
def test_publish_and_enqueue_refuse_control_characters(api, name, value):
    headers = {name: value, "Upstash-Callback": DEST, "Upstash-Failure-Callback": DEST}
    for path in (f"/v2/publish/{DEST}", f"/v2/enqueue/q/{DEST}"):
        assert_refused(api.post(path, b"x", content_type="text/plain", headers=headers), name)


def test_query_parameter_twins_refuse_control_characters(api):
    response = api.post(f"/v2/publish/{DEST}?upstash-callback-forward-x-note=a%0D%0AX-Evil:%201",
                        b"x", content_type="text/plain", headers={"Upstash-Callback": DEST})
    assert_refused(response, "Upstash-Callback-Forward-X-Note")


@pytest.mark.parametrize("value", INJECTED)
def test_batch_items_refuse_control_characters(api, value):
    items = [{"destination": DEST, "headers": {"Upstash-Forward-X-Note": value}, "body": "a"},
             {"destination": DEST, "headers": {"upstash-forward-x-ok": "fine"}, "body": "b"}]
    if "\x00" in value:  # the batch body as a whole refuses NUL, before any item
        return assert_refused(api.post("/v2/batch", json.dumps(items), "application/json"), "NUL")
    response = api.post("/v2/batch", json.dumps(items), content_type="application/json")
    refused, accepted = response.json()
    assert "Upstash-Forward-X-Note" in refused["error"] and "control character" in refused["error"]
    assert Message.objects.get().id == accepted["messageId"]


@pytest.mark.parametrize("name", BAD_NAMES)
def test_batch_items_refuse_names_http_cannot_carry(api, name):
    items = [{"destination": DEST, "headers": {f"Upstash-Forward-{name}": "v"}, "body": "a"}]
    response = api.post("/v2/batch", json.dumps(items), content_type="application/json")
    if "\x00" in name:
        return assert_refused(response, "NUL")
    [refused] = response.json()
    assert "not a valid header name" in refused["error"]
    assert not Message.objects.exists()


@pytest.mark.parametrize("value", INJECTED)
def test_schedules_refuse_control_characters(api, value):
    response = api.post(f"/v2/schedules/{DEST}", b"x", content_type="text/plain",
                        headers={"Upstash-Cron": "* * * * *", "Upstash-Forward-X-Note": value})
    assert_refused(response, "Upstash-Forward-X-Note")
    assert not Schedule.objects.exists()


@pytest.mark.parametrize("headers", [{"Upstash-Forward-X-Note": "a\r\nb"},
                                     {"Upstash-Forward-X-Note": ["ok", "a\nb"]},
                                     {"Upstash-Forward-X Bad": "v"}])
def test_url_group_default_headers_are_checked_when_set(api, tenant, headers):
    UrlGroup.objects.create(tenant=tenant, name="g")
    response = api.patch("/v2/topics/g", json.dumps({"headers": headers}), "application/json")
    assert response.status_code == 400, response.content
    assert "Upstash-Forward-X" in response.json()["error"]
    assert UrlGroup.objects.get().default_headers == {}


def test_dlq_retry_override_headers_are_checked(api, tenant):
    entry = make_dlq(tenant)
    response = api.post(f"/v2/dlq/retry/{entry.dlq_id}", headers={"Upstash-Forward-X": "a\r\nb"})
    assert response.status_code == 400 and "Upstash-Forward-X" in response.json()["error"]
    assert DlqEntry.objects.count() == 1 and Message.objects.count() == 1


@pytest.mark.parametrize("value", ["a\x01b", "a\x1bb", "a\x7fb"])
def test_dlq_edit_and_retry_refuses_control_characters(admin_client, tenant, value):
    entry = make_dlq(tenant)
    response = admin_client.post(f"/admin/django_qstash/dlqentry/{entry.pk}/edit-retry/",
                                 {"headers": f"X-Note: {value}", "body": "x"})
    assert response.status_code == 200 and "control character" in response.content.decode()
    assert DlqEntry.objects.count() == 1 and Message.objects.count() == 1


def test_dlq_edit_and_retry_drops_hop_and_server_headers(admin_client, tenant):
    entry = make_dlq(tenant)
    lines = ("Host: evil.example\nTransfer-Encoding: chunked\nContent-Length: 0\n"
             "upstash-signature: forged\nUser-Agent: forged\nX-Kept: yes")
    response = admin_client.post(f"/admin/django_qstash/dlqentry/{entry.pk}/edit-retry/",
                                 {"headers": lines, "body": "x"})
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Message.objects.exclude(pk=entry.message_id).get()
    assert new.headers == {"X-Kept": ["yes"]}
    assert parse_header_lines(lines) == {"X-Kept": ["yes"]}


@pytest.mark.parametrize("value", ["a\x01b", "a\x1bb"])
def test_schedule_admin_refuses_control_characters(admin_client, tenant, value):
    response = admin_client.post("/admin/django_qstash/schedule/add/", {
        "tenant": tenant.pk, "schedule_id": "", "expression": "* * * * *", "time_zone": "",
        "destination": DEST, "queue_name": "", "headers": f"Upstash-Forward-X-Note: {value}",
        "body_text": "x", "_save": "Save"})
    assert response.status_code == 200 and "control character" in response.content.decode()
    assert not Schedule.objects.exists()


def test_url_group_admin_refuses_control_characters(admin_client, tenant):
    response = admin_client.post("/admin/django_qstash/urlgroup/add/", {
        "tenant": tenant.pk, "name": "g", "_save": "Save",
        "default_headers": json.dumps({"Upstash-Forward-X-Note": "a\r\nX-Evil: 1"}),
        "endpoints-TOTAL_FORMS": 0, "endpoints-INITIAL_FORMS": 0})
    assert response.status_code == 200 and "control character" in response.content.decode()
    assert not UrlGroup.objects.exists()


@pytest.mark.parametrize("backend", ["local", "outbox", "remote"])
@pytest.mark.parametrize("arguments", [
    {"headers": {"X-Note": "a\r\nX-Evil: 1"}}, {"headers": {"X-Evil\r\nHost": "v"}},
    {"headers": {"Content-Type": "text/plain\r\nX-Evil: 1"}}, {"method": "POST\r\nX-Evil: 1"},
    {"callback": "https://example.com/cb\r\nX-Evil: 1"}, {"label": ["a\nb"]},
])
def test_client_refuses_control_characters_before_sending(tenant, backend, arguments):
    # Port 9 on loopback: a remote send that got as far as connecting would fail differently.
    chosen = {"local": qstash_client.LocalBackend(), "outbox": qstash_client.Outbox(),
              "remote": qstash_client.RemoteBackend("http://127.0.0.1:9", "token")}[backend]
    with qstash_client.use_backend(chosen), pytest.raises(BadRequest, match="header"):
        qstash_client.publish(DEST, "x", **arguments)
    assert not Message.objects.exists() and (backend != "outbox" or chosen == [])


@pytest.mark.parametrize("name, value", [("Upstash-Forward-X", "a\r\nb"), ("Upstash-Retries",
                                         "1\r\nX: y"), ("X-Passed", "a\nb"),
                                        ("Upstash-Forward-A B", "v")])
def test_parsing_refuses_what_no_request_may_carry(name, value):
    with pytest.raises(BadRequest) as refused:
        parse_publish_headers([(name, value), ("Upstash-Header-Forward", "true")])
    assert refused.value.status == 400 and name.split()[0] in refused.value.message
