"""Rows stored before lone surrogates were refused still read back: escaped JSON, not a 500."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test import Client

from django_qstash.models import ApiToken
from django_qstash.tenants import create_tenant
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
