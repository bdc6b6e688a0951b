"""Tenant isolation: with its own valid token, tenant A reaches nothing of tenant B's."""

from __future__ import annotations

import time

import pytest

from django_qstash.models import (
    FlowControlKey,
    Message,
    Queue,
    Schedule,
    SigningKeyPair,
    UrlGroup,
    WorkflowEvent,
    WorkflowRun,
    WorkflowWaiter,
)
from tests.security.endpoints import (
    CALLS,
    ITEM_NOT_FOUND,
    LIST,
    NOT_FOUND,
    OWN,
    PUBLIC,
    REFUSED,
    covered,
    fill,
    routes_and_methods,
)
from tests.support import http_client

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_endpoint_has_an_isolation_case():
    missing = routes_and_methods() - covered(CALLS)
    assert not missing, f"endpoints without an isolation/read-only case: {sorted(missing)}"


def b_call(qstash, other, method, path, **kwargs):
    headers = {"Authorization": f"Bearer {other.token}", **kwargs.pop("headers", {})}
    response = http_client.request(method, qstash.url + path, headers=headers, timeout=30, **kwargs)
    assert response.status_code < 300, response.text
    return response


@pytest.fixture
def tenant_b(qstash, other_tenant, sink):
    """One of everything, owned by tenant B."""
    names = dict(queue="b-queue", group="b-group", schedule="b-schedule", key="b-key")
    b_call(qstash, other_tenant, "POST", "/v2/topics/b-group/endpoints",
           json={"endpoints": [{"url": f"{sink.url}/b"}]})
    b_call(qstash, other_tenant, "POST", "/v2/queues", json={"queueName": "b-queue"})
    names["message"] = b_call(qstash, other_tenant, "POST", f"/v2/publish/{sink.url}/later",
                              headers={"Upstash-Delay": "1h", "Upstash-Flow-Control-Key": "b-key",
                                       "Upstash-Flow-Control-Value": "parallelism=1"}
                              ).json()["messageId"]
    b_call(qstash, other_tenant, "POST", f"/v2/enqueue/b-queue/{sink.url}/queued",
           headers={"Upstash-Retries": "0"})
    b_call(qstash, other_tenant, "POST", f"/v2/schedules/{sink.url}/s",
           headers={"Upstash-Cron": "0 0 1 1 *", "Upstash-Schedule-Id": "b-schedule"})
    names["run"], names["event"] = "wfr_b-run", "b-event"
    names["account"] = other_tenant.tenant.account_id
    b_call(qstash, other_tenant, "POST", f"/v2/publish/{sink.url}/wf",
           headers={"Upstash-Workflow-Init": "true", "Upstash-Workflow-RunId": "wfr_b-run",
                    "Upstash-Delay": "1h"})
    b_call(qstash, other_tenant, "POST", "/v2/wait/b-event",
           headers={"Upstash-Workflow-RunId": "wfr_b-run"},
           json={"url": f"{sink.url}/wf", "timeout": "1h", "step": {"stepId": 1}})
    failing = b_call(qstash, other_tenant, "POST", f"/v2/publish/{sink.url}/status/500",
                     headers={"Upstash-Retries": "0"}).json()["messageId"]
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        dlq = b_call(qstash, other_tenant, "GET", "/v2/dlq").json()["messages"]
        if any(m["messageId"] == failing for m in dlq):
            break
        time.sleep(0.05)
    [entry] = [m for m in dlq if m["messageId"] == failing]
    names["dlq"] = entry["dlqId"]
    # The due-now queued message is delivered in the background: the snapshots compared per
    # call must not catch it changing on its own.
    while Message.objects.filter(tenant=other_tenant.tenant, status="active").exists():
        assert time.monotonic() < deadline, "tenant B's due-now messages were not delivered"
        time.sleep(0.05)
    return names


def snapshot(tenant) -> dict:
    return {
        "messages": sorted(Message.objects.filter(tenant=tenant).values_list("id", "status")),
        "queues": sorted(Queue.objects.filter(tenant=tenant)
                         .values_list("name", "parallelism", "paused")),
        "groups": sorted(UrlGroup.objects.filter(tenant=tenant)
                         .values_list("name", "endpoints__url")),
        "schedules": sorted(Schedule.objects.filter(tenant=tenant)
                            .values_list("schedule_id", "destination", "paused")),
        "keys": sorted(FlowControlKey.objects.filter(tenant=tenant)
                       .values_list("key", "paused", "parallelism_max")),
        "dlq": sorted(tenant.dlq_entries.values_list("dlq_id", flat=True)),
        "signing": SigningKeyPair.objects.filter(tenant=tenant).values_list("current", "next")[0],
        "runs": sorted(WorkflowRun.objects.filter(tenant=tenant).values_list("run_id", "state")),
        "waiters": sorted(WorkflowWaiter.objects.filter(tenant=tenant).values_list("event_id")),
        "events": sorted(WorkflowEvent.objects.filter(tenant=tenant).values_list("event_id")),
    }


def check_call(qstash, other_tenant, tenant_b, call) -> None:
    before = snapshot(other_tenant.tenant)
    response = http_client.request(call.method, qstash.url + fill(call.path, tenant_b),
                                   json=fill(call.json, tenant_b), headers={
                                       **qstash.auth, **fill(call.headers, tenant_b)},
                                   params=fill(call.params, tenant_b), timeout=30)
    text = response.text
    if call.expect == NOT_FOUND:
        assert response.status_code == 404, text
        assert "not found" in response.json()["error"], text
    elif call.expect == REFUSED:
        assert 400 <= response.status_code < 500 and response.json()["error"], text
    elif call.expect == ITEM_NOT_FOUND:
        assert response.status_code in (200, 201), text
        assert all("not found" in item["error"] for item in response.json()), text
    else:
        assert response.status_code < 300, text
    if call.expect == LIST:
        for value in tenant_b.values():  # no id or name of B's appears in A's listing
            assert value not in text, value
    if call.expect in (OWN, LIST, PUBLIC):
        assert other_tenant.current_key not in text and other_tenant.next_key not in text
    assert snapshot(other_tenant.tenant) == before, "tenant B's data changed"


def test_tenant_a_reaches_nothing_of_tenant_b(qstash, other_tenant, tenant_b):
    # One tenant B for every call (setting it up is the slow part); failures are collected.
    failures = []
    for call in CALLS:
        try:
            check_call(qstash, other_tenant, tenant_b, call)
        except AssertionError as exc:
            failures.append(f"{call.method} {call.path}: {exc}")
        # Upserts (POST /v2/queues …) gave tenant A a same-named resource of its own; drop it
        # so the next call meets only tenant B's.
        for model in (Queue, UrlGroup, Schedule):
            model.objects.filter(tenant=qstash.tenant).delete()
    assert not failures, "\n".join(failures)
