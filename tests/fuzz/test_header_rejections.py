"""Hypothesis through the HTTP API: any header value is accepted or a 4xx naming the header."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken
from tests.fuzz.strategies import VALUES

CALLBACK = "https://example.com/callback"
# What a rejection must mention so the sender knows which header to fix.
PUBLISH_HEADERS = {
    "Upstash-Method": "Upstash-Method", "Upstash-Delay": "Upstash-Delay",
    "Upstash-Not-Before": "Upstash-Not-Before", "Upstash-Retries": "Upstash-Retries",
    "Upstash-Retry-Delay": "Upstash-Retry-Delay", "Upstash-Timeout": "Upstash-Timeout",
    "Upstash-Callback": "Upstash-Callback", "Upstash-Failure-Callback": "Upstash-Failure-Callback",
    "Upstash-Callback-Method": "Upstash-Callback-Method",
    "Upstash-Callback-Timeout": "Upstash-Callback-Timeout",
    "Upstash-Callback-Retries": "Upstash-Callback-Retries",
    "Upstash-Callback-Retry-Delay": "Upstash-Callback-Retry-Delay",
    "Upstash-Deduplication-Id": "Upstash-Deduplication-Id",
    "Upstash-Content-Based-Deduplication": "Upstash-Content-Based-Deduplication",
    "Upstash-Flow-Control-Value": "flow-control", "Upstash-Redact-Fields": "Upstash-Redact-Fields",
    "Upstash-Header-Forward": "Upstash-Header-Forward", "Upstash-Queue-Name": "Upstash-Queue-Name",
    "Upstash-Label": "Upstash-Label",
}
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))


@pytest.fixture
def api(db):
    tenant = create_tenant("fuzz")
    _, token = ApiToken.issue(tenant)
    return Client(headers={"Authorization": f"Bearer {token}"})


def check(response, fragment: str) -> None:
    assert response.status_code < 500, response.content
    if response.status_code >= 400:
        error = response.json()["error"]
        assert fragment.lower() in error.lower(), (fragment, error)


@FUZZ
@given(name=st.sampled_from(sorted(PUBLISH_HEADERS)), value=VALUES)
@example(name="Upstash-Retry-Delay", value="pow(10, 1000)")
@example(name="Upstash-Retry-Delay", value="(" * 5000 + "1" + ")" * 5000)
@example(name="Upstash-Retry-Delay", value="9" * 999)
@example(name="Upstash-Retry-Delay", value="unknown_name(retried)")
@example(name="Upstash-Delay", value="9" * 400 + "d")
@example(name="Upstash-Not-Before", value="9" * 20)
@example(name="Upstash-Flow-Control-Value", value="parallelism=99999999999")
def test_publish_header_values(api, name, value):
    headers = {name: value, "Upstash-Flow-Control-Key": "k"}
    if name.startswith("Upstash-Callback-"):
        headers["Upstash-Callback"] = CALLBACK
    response = api.post("/v2/publish/https://example.com/x", data=b"x",
                        content_type="text/plain", headers=headers)
    check(response, PUBLISH_HEADERS[name])


@FUZZ
@given(cron=VALUES | st.from_regex(r"\A(CRON_TZ=\S{0,12} )?([0-9*/,-]{1,5} ){4}[0-9*/,-]{1,5}\Z"))
@example(cron="0 0 30 2 *")
@example(cron="CRON_TZ=../../../etc/passwd * * * * *")
@example(cron="* * * * * *")
def test_schedule_cron_values(api, cron):
    response = api.post("/v2/schedules/https://example.com/s", data=b"",
                        content_type="text/plain", headers={"Upstash-Cron": cron})
    check(response, "Upstash-Cron")


@FUZZ
@given(name=st.sampled_from(["fromDate", "toDate", "count", "cursor", "messageId", "state",
                             "label", "url", "queueName", "responseStatus"]),
       value=VALUES | st.integers(min_value=-10**20, max_value=10**20).map(str),
       path=st.sampled_from(["/v2/events", "/v2/logs", "/v2/dlq"]))
@example(name="fromDate", value="9" * 15, path="/v2/dlq")
@example(name="cursor", value="²", path="/v2/events")
def test_list_filters(api, name, value, path):
    response = api.get(path, {name: value})
    check(response, name if name != "responseStatus" else "responseStatus")


@pytest.mark.parametrize("path, body, status, fragment", [
    ("/v2/batch", "[" * 100_000 + "]" * 100_000, 400, "nested too deeply"),
    ("/v2/queues", '{"queueName": "q\\u0000"}', 400, "NUL"),
    ("/v2/topics/g/endpoints", '{"endpoints": [{"url": "https://a.example", "name": "\\u0000"}]}',
     400, "NUL"),
    ("/v2/batch", '[{"destination": "https://a.example/x", "body": "a\\u0000b"}]', 200, ""),
])
def test_json_bodies_the_database_could_not_store(api, path, body, status, fragment):
    response = api.post(path, data=body, content_type="application/json")
    assert response.status_code == status, response.content
    if fragment:
        assert fragment in response.json()["error"]


def test_nul_in_path_and_query_is_400(api):
    for response in (api.get("/v2/messages/msg_\x00"), api.get("/v2/events", {"label": "a\x00"})):
        assert response.status_code == 400 and "NUL" in response.json()["error"]
