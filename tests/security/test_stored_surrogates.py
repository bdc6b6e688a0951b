"""Rows stored before lone surrogates were refused still read back: escaped JSON, not a 500."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

from django_qstash.core import clock
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken, Schedule, UrlGroup
from tests.operator.factories import make_dlq

pytestmark = pytest.mark.django_db


def test_reads_of_a_row_holding_a_lone_surrogate_answer_json():
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite ever stored lone surrogates; PostgreSQL refuses them")
    tenant = create_tenant("stored")
    _, token = ApiToken.issue(tenant, name="t")
    entry = make_dlq(tenant, labels=["l\ud800"])  # JSON columns store it escaped
    entry.message.headers = {"X-Forwarded": ["v\ud800"]}
    entry.message.save(update_fields=["headers"])
    tenant.events.update(labels=["l\ud800"])
    api = Client(headers={"Authorization": f"Bearer {token}"}, raise_request_exception=False)
    for path in ("/v2/events", "/v2/logs", "/v2/dlq", f"/v2/dlq/{entry.dlq_id}",
                 f"/v2/messages/{entry.message_id}"):
        response = api.get(path)
        assert response.status_code == 200, (path, response.content[:200])
        json.loads(response.content)  # valid JSON, the surrogate escaped
        assert b"\\ud800" in response.content, path



ADMIN = "/admin/django_qstash"


@pytest.fixture
def stored_rows():
    """A failed message, its DLQ entry, attempt and events, each holding a lone surrogate in
    every JSON column the admin shows (text columns never could: SQLite refuses to bind it)."""
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite ever stored lone surrogates; PostgreSQL refuses them")
    tenant = create_tenant("stored-admin")
    entry = make_dlq(tenant, labels=["l\ud800"])
    entry.response_headers = {"X-Upstream": ["r\ud800"]}
    entry.save(update_fields=["response_headers"])
    message = entry.message
    message.headers = {"X-Forwarded": ["v\ud800"], "X-N\udfff": ["w"]}
    message.save(update_fields=["headers"])
    message.attempts.update(response_headers={"X-Attempt": ["a\ud800"]})
    tenant.events.update(labels=["l\ud800"], response_headers={"X-Event": ["e\ud800"]})
    event = tenant.events.filter(message_id=message.id).first()
    return {"message": message.pk, "entry": entry.pk, "event": event.pk}


@pytest.mark.parametrize("page, shows_it", [
    ("message/", True),  # the labels column
    ("message/{message}/change/", True),
    ("dlqentry/", False),
    ("dlqentry/{entry}/change/", True),
    ("dlqentry/{entry}/edit-retry/", True),
    ("event/", False),
    ("event/{event}/change/", True),
])
def test_admin_pages_of_a_row_holding_a_lone_surrogate_show_it_escaped(admin_client, stored_rows,
                                                                       page, shows_it):
    admin_client.raise_request_exception = False
    response = admin_client.get(f"{ADMIN}/{page.format(**stored_rows)}")
    assert response.status_code == 200, response.content[:300]
    assert ("\\ud800" in response.content.decode()) is shows_it


def test_a_json_body_escaping_a_lone_surrogate_shows_in_the_admin(admin_client):
    """Valid UTF-8 bytes, so accepted on every database; decoded, the JSON is a lone surrogate."""
    tenant = create_tenant("escaped-body")
    entry = make_dlq(tenant, body=b'{"text": "\\ud800"}')
    admin_client.raise_request_exception = False
    for page in (f"message/{entry.message_id}/change/", f"dlqentry/{entry.pk}/change/"):
        response = admin_client.get(f"{ADMIN}/{page}")
        assert response.status_code == 200, (page, response.content[:300])
        assert "&quot;text&quot;: &quot;\\ud800&quot;" in response.content.decode(), page


def test_url_group_and_schedule_pages_show_a_stored_lone_surrogate_escaped(admin_client):
    if connection.vendor != "sqlite":
        pytest.skip("only SQLite ever stored lone surrogates; PostgreSQL refuses them")
    tenant = create_tenant("stored-config")
    group = UrlGroup.objects.create(tenant=tenant, name="grp",
                                    default_headers={"Upstash-Forward-X": "g\ud800"})
    schedule = Schedule.objects.create(
        tenant=tenant, schedule_id="scd_stored", cron="* * * * *",
        destination="https://example.com/x", created_at=clock.now(),
        options={"headers": [["Upstash-Forward-X", "s\ud800"]]},
        last_schedule_states={"msg_x": "IN_PROGRESS\ud800"})
    admin_client.raise_request_exception = False
    for page in (f"urlgroup/{group.pk}/change/", f"schedule/{schedule.pk}/change/",
                 "urlgroup/", "schedule/"):
        response = admin_client.get(f"{ADMIN}/{page}")
        assert response.status_code == 200, (page, response.content[:300])
        if "change" in page:
            assert "\\ud800" in response.content.decode(), page
