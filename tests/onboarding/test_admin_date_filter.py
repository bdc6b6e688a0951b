"""The admin's date filters take hand-written dates without naive-datetime warnings."""

from __future__ import annotations

import warnings
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model

from django_qstash.core import clock
from django_qstash.engine.tenants import create_tenant
from tests.operator.factories import make_message

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):
    client.force_login(get_user_model().objects.create_superuser("root", "r@x.test", "pw"))
    return client


@pytest.mark.parametrize("page, field", [("message", "created_at"), ("message", "finished_at"),
                                         ("dlqentry", "created_at"), ("event", "time")])
def test_a_bare_date_filters_without_a_warning(admin_client, page, field):
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        response = admin_client.get(f"/admin/django_qstash/{page}/",
                                    {f"{field}__gte": "2026-12-07", f"{field}__lt": "2026-12-08"})
    assert response.status_code == 200


def test_a_bare_date_means_midnight_in_the_current_time_zone(admin_client):
    tenant = create_tenant("ops")
    today = clock.now().date()
    make_message(tenant)
    response = admin_client.get("/admin/django_qstash/message/",
                                {"created_at__gte": str(today + timedelta(days=1))})
    assert response.context["cl"].result_count == 0
    response = admin_client.get("/admin/django_qstash/message/",
                                {"created_at__gte": str(today)})
    assert response.context["cl"].result_count == 1


def test_a_wrong_date_is_refused_as_before(admin_client):
    response = admin_client.get("/admin/django_qstash/message/", {"created_at__gte": "soon"})
    assert response.status_code == 302 and "e=1" in response.url
