"""Limits: sizes, counts and ranges are configurable 4xx; per-token 429s carry the SDK headers."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timezone

import pytest
from django.core.cache import cache
from django.test import Client

from django_qstash.api.ratelimit import RateLimited, check_burst
from django_qstash.core import clock
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken

URL = "/v2/publish/https://example.com/x"


@pytest.fixture
def frozen():
    # One frozen instant: every request of a test falls in the same 1-second window.
    previous = clock.get_clock()
    clock.set_clock(clock.FrozenClock(datetime(2026, 5, 1, 12, 0, 0, tzinfo=timezone.utc)))
    cache.clear()
    yield clock.get_clock()
    clock.set_clock(previous)
    cache.clear()


@pytest.fixture
def tenant(db):
    return create_tenant("limits")


def client_for(tenant, **kwargs) -> Client:
    _, secret = ApiToken.issue(tenant, **kwargs)
    return Client(headers={"Authorization": f"Bearer {secret}"})


def limits(settings, **values):
    settings.QSTASH = {**settings.QSTASH, **values}


def publish(api, headers=None, body=b"x"):
    return api.post(URL, data=body, content_type="text/plain", headers=headers or {})


@pytest.mark.parametrize("setting, value, headers, body, status, fragment", [
    ("MAX_BODY_BYTES", 10, {}, b"x" * 11, 413, "larger than 10 bytes"),
    ("MAX_HEADER_COUNT", 3, {f"X-H{i}": "v" for i in range(4)}, b"x", 431, "too many headers"),
    ("MAX_HEADER_BYTES", 300, {"Upstash-Forward-Big": "v" * 400}, b"x", 431, "at most 300"),
    ("MAX_RETRIES", 2, {"Upstash-Retries": "3"}, b"x", 400, "at most 2"),
    ("MAX_DELAY_SECONDS", 60, {"Upstash-Delay": "61s"}, b"x", 400, "maximum delay"),
    ("MAX_TIMEOUT_SECONDS", 30, {"Upstash-Timeout": "31s"}, b"x", 400, "between 1s and 30s"),
])
def test_configurable_limits(tenant, settings, setting, value, headers, body, status, fragment):
    api = client_for(tenant)
    assert publish(api, headers, b"x").status_code == 200 or setting == "MAX_HEADER_COUNT"
    limits(settings, **{setting: value})
    response = publish(api, headers, body)
    assert response.status_code == status, response.content
    assert fragment in response.json()["error"]


def test_max_batch_size(tenant, settings):
    limits(settings, MAX_BATCH_SIZE=2)
    api = client_for(tenant)
    items = [{"destination": "https://example.com/b", "body": "x"}] * 3
    response = api.post("/v2/batch", data=json.dumps(items), content_type="application/json")
    assert response.status_code == 400 and "at most 2 messages" in response.json()["error"]
    ok = api.post("/v2/batch", data=json.dumps(items[:2]), content_type="application/json")
    assert ok.status_code == 200


def test_rate_limiting_is_off_by_default(tenant, frozen):
    api = client_for(tenant)
    responses = [api.get("/v2/queues") for _ in range(50)]
    assert {r.status_code for r in responses} == {200}
    assert "Burst-RateLimit-Limit" not in responses[-1]


def test_webhook_calls_are_charged_to_the_account_their_url_names(tenant, settings, frozen):
    """A workflow's webhook URL carries no token: its account pays, before any lookup."""
    limits(settings, API_BURST_RATE_LIMIT=2)
    other = create_tenant("limits-other")

    def call(account_id: str):
        return Client().post(f"/v2/workflows/hooks/{account_id}/wfr_none/evt_none", b"call",
                             content_type="text/plain")

    answers = [call(tenant.account_id) for _ in range(3)]
    assert [r.status_code for r in answers] == [404, 404, 429]  # no such run, then refused
    assert answers[-1]["Burst-RateLimit-Limit"] == "2"
    assert "this account's webhooks" in answers[-1].json()["error"]
    assert call(other.account_id).status_code == 404  # each account has its own budget
    assert client_for(tenant).get("/v2/queues").status_code == 200  # and tokens theirs
    frozen.advance(1)
    assert call(tenant.account_id).status_code == 404


def test_burst_limit_per_token(tenant, settings, frozen):
    limits(settings, API_BURST_RATE_LIMIT=3)
    api, other = client_for(tenant), client_for(tenant, read_only=True)
    answers = [api.get("/v2/queues") for _ in range(4)]
    assert [r.status_code for r in answers] == [200, 200, 200, 429]
    assert [r["Burst-RateLimit-Remaining"] for r in answers] == ["2", "1", "0", "0"]
    limited = answers[-1]
    assert limited["Burst-RateLimit-Limit"] == "3"
    assert limited["Burst-RateLimit-Reset"] == str(int(frozen.now().timestamp()) + 1)
    assert "requests per second" in limited.json()["error"]
    assert other.get("/v2/queues").status_code == 200  # each token has its own budget
    frozen.advance(1)
    assert api.get("/v2/queues").status_code == 200  # a new window


def test_daily_message_quota(tenant, settings, frozen):
    limits(settings, DAILY_MESSAGE_QUOTA=3)
    api = client_for(tenant)
    first, second = publish(api), publish(api)
    assert (first["RateLimit-Remaining"], second["RateLimit-Remaining"]) == ("2", "1")
    batch = [{"destination": "https://example.com/b"}] * 2
    over = api.post("/v2/batch", data=json.dumps(batch), content_type="application/json")
    assert over.status_code == 429 and "daily message quota" in over.json()["error"]
    assert over["RateLimit-Limit"] == "3" and over["RateLimit-Remaining"] == "1"
    assert over["RateLimit-Reset"] == str(int(datetime(2026, 5, 2, tzinfo=timezone.utc)
                                              .timestamp()))
    assert publish(api).status_code == 200  # the refused batch did not use up the quota
    assert publish(api).status_code == 429
    assert api.get("/v2/queues").status_code == 200  # reads are not messages
    frozen.advance(86400)
    assert publish(api).status_code == 200


def test_counting_is_atomic(db, settings, frozen):
    limits(settings, API_BURST_RATE_LIMIT=20)
    allowed, barrier = [], threading.Barrier(50)

    def hit():
        barrier.wait()
        try:
            check_burst(budget=424242)
            allowed.append(1)
        except RateLimited:
            pass

    threads = [threading.Thread(target=hit) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(allowed) == 20


@pytest.mark.django_db(transaction=True)
def test_sdk_reads_our_429s(qstash, sink, settings, frozen):
    from qstash import QStash
    from qstash.errors import DailyMessageLimitExceededError, RateLimitExceededError

    client = QStash(qstash.token, base_url=qstash.url, retry=False)
    limits(settings, DAILY_MESSAGE_QUOTA=1)
    # The accepted message is delivered: to the loopback sink, never off the machine.
    client.message.publish(url=f"{sink.url}/sdk", body="x")
    with pytest.raises(DailyMessageLimitExceededError) as daily:
        client.message.publish(url=f"{sink.url}/sdk", body="x")
    assert daily.value.limit == "1" and daily.value.remaining == "0"
    limits(settings, DAILY_MESSAGE_QUOTA=0, API_BURST_RATE_LIMIT=1)
    cache.clear()
    client.queue.list()
    with pytest.raises(RateLimitExceededError) as burst:
        client.queue.list()
    assert burst.value.limit == "1" and burst.value.reset
