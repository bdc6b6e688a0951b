"""GET /metrics (counters, histograms, database gauges) and the structured state-change log."""

from __future__ import annotations

import logging

import pytest

from django_qstash.engine.metrics import LOCAL_REGISTRY
from django_qstash.models import FlowControlKey, Queue
from tests.e2e.helpers import api, publish, wait_for_state
from tests.support import http_client

pytestmark = pytest.mark.django_db(transaction=True)


def sample(name: str, **labels) -> float:
    return LOCAL_REGISTRY.get_sample_value(name, labels) or 0.0


def test_counters_histograms_and_gauges(qstash, sink, caplog, settings):
    settings.QSTASH = {**settings.QSTASH, "METRICS_TOKEN": "scrape"}
    caplog.set_level(logging.INFO, logger="django_qstash.engine.event_log")
    tenant = {"tenant": "tests"}
    before = {name: sample(f"qstash_messages_{name}_total", **tenant)
              for name in ("published", "delivered", "failed", "retried")}
    attempts_before = sample("qstash_attempt_duration_seconds_count", result="error", **tenant)
    delivered = publish(qstash, f"{sink.url}/ok", "x")
    failed = publish(qstash, f"{sink.url}/status/500", "x", Upstash_Retries="1",
                     Upstash_Retry_Delay="10")
    wait_for_state(qstash, delivered, "DELIVERED")
    wait_for_state(qstash, failed, "FAILED")
    Queue.objects.create(tenant=qstash.tenant, name="held", paused=True)
    api(qstash, "POST", f"/v2/enqueue/held/{sink.url}/q", content=b"1")
    FlowControlKey.objects.create(tenant=qstash.tenant, key="slow", paused=True)
    publish(qstash, f"{sink.url}/fc", "x", Upstash_Flow_Control_Key="slow",
            Upstash_Flow_Control_Value="parallelism=1")

    text = http_client.get(f"{qstash.url}/metrics", headers={"Authorization": "Bearer scrape"},
                           timeout=10).text
    assert sample("qstash_messages_published_total", **tenant) - before["published"] == 4
    assert sample("qstash_messages_delivered_total", **tenant) - before["delivered"] == 1
    assert sample("qstash_messages_failed_total", **tenant) - before["failed"] == 1
    assert sample("qstash_messages_retried_total", **tenant) - before["retried"] == 1
    assert sample("qstash_attempt_duration_seconds_count", result="error", **tenant) \
        - attempts_before == 2
    assert sample("qstash_delivery_latency_seconds_count", **tenant) >= 1
    for line in ('qstash_queue_lag{queue="held",tenant="tests"} 1.0',
                 'qstash_queue_paused{queue="held",tenant="tests"} 1.0',
                 'qstash_dlq_size{queue="",tenant="tests"} 1.0',
                 'qstash_flow_control_waitlist{key="slow",tenant="tests"} 1.0',
                 'qstash_messages_undelivered{state="pending",tenant="tests"} 2.0',
                 "qstash_messages_delivered_total{", "qstash_delivery_latency_seconds_bucket{"):
        assert line in text, line

    lines = [r.getMessage() for r in caplog.records if r.name == "django_qstash.engine.event_log"]
    mine = [line for line in lines if f"message_id={failed}" in line]
    states = [line.split("state=")[1].split()[0] for line in mine]
    assert states == ["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "ERROR", "FAILED"]
    assert all(line.startswith("event=state_change ") and "tenant=tests" in line
               for line in mine)
    assert "status=500" in mine[-1] and 'error="destination answered 500"' in mine[-1]


def test_metrics_token(client, settings, db):
    settings.QSTASH = {**settings.QSTASH, "METRICS_TOKEN": "s3cret"}
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 401
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret")
    assert response.status_code == 200 and b"qstash_messages_undelivered" in response.content


def test_metrics_are_closed_by_default(client, settings, db):
    # Every tenant's and queue's name is in there: not for anonymous callers.
    from django.contrib.auth.models import Group, User

    anonymous = client.get("/metrics")
    assert anonymous.status_code == 401 and b"qstash_" not in anonymous.content
    scoped = User.objects.create_user("scoped", password="pw", is_staff=True)
    scoped.groups.add(Group.objects.create(name="qstash-tenant:tests"))
    client.force_login(scoped)  # staff of one tenant would see every tenant's names
    assert client.get("/metrics").status_code == 401
    client.force_login(User.objects.create_superuser("root", password="pw"))
    assert client.get("/metrics").status_code == 200
    client.logout()
    settings.QSTASH = {**settings.QSTASH, "METRICS_PUBLIC": True}
    assert client.get("/metrics").status_code == 200


def test_multiprocess_mode_reads_the_shared_directory(client, db, tmp_path, monkeypatch,
                                                      settings):
    settings.QSTASH = {**settings.QSTASH, "METRICS_PUBLIC": True}
    # What gunicorn and Celery prefork workers use: samples from files, summed over processes.
    from prometheus_client import CollectorRegistry, Counter, values

    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(tmp_path))
    monkeypatch.setattr(values, "ValueClass", values.MultiProcessValue(lambda: 4242))
    Counter("qstash_probe", "probe", registry=CollectorRegistry()).inc(3)
    text = client.get("/metrics").content.decode()
    assert "qstash_probe_total 3.0" in text
