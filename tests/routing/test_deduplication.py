"""Deduplication by id and by content: one delivery, the original id, even under a race."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest

from tests.e2e.helpers import api
from tests.support import http_client

pytestmark = pytest.mark.django_db(transaction=True)


def post(qstash, destination: str, body: bytes = b"same", **headers) -> httpx.Response:
    return api(qstash, "POST", f"/v2/publish/{destination}", content=body,
               headers={k.replace("_", "-"): v for k, v in headers.items()})


def test_deduplication_id_returns_the_original_with_202(qstash, sink):
    first = post(qstash, f"{sink.url}/d", Upstash_Deduplication_Id="order-1")
    second = post(qstash, f"{sink.url}/d", Upstash_Deduplication_Id="order-1")
    assert first.status_code == 200 and first.json()["deduplicated"] is False
    assert second.status_code == 202
    assert second.json() == {**first.json(), "deduplicated": True}
    other = post(qstash, f"{sink.url}/d", Upstash_Deduplication_Id="order-2")
    assert other.json()["messageId"] != first.json()["messageId"]
    sink.wait_for(2, "/d")
    time.sleep(0.3)
    assert len(sink.received("/d")) == 2


def test_content_based_deduplication_hashes_body_type_and_forwarded_headers(qstash, sink):
    def publish(body=b"payload", **extra):
        return post(qstash, f"{sink.url}/c", body, Upstash_Content_Based_Deduplication="True",
                    Content_Type="text/plain", **extra).json()

    first = publish()
    assert publish()["messageId"] == first["messageId"]
    assert publish(b"other")["deduplicated"] is False
    assert publish(Upstash_Forward_X="1")["deduplicated"] is False


def test_window_expiry_allows_the_same_id_again(qstash, sink, settings):
    settings.QSTASH = {**settings.QSTASH, "DEDUPLICATION_WINDOW_SECONDS": 1}
    first = post(qstash, f"{sink.url}/w", Upstash_Deduplication_Id="w")
    time.sleep(1.2)
    again = post(qstash, f"{sink.url}/w", Upstash_Deduplication_Id="w")
    assert again.json()["deduplicated"] is False
    assert again.json()["messageId"] != first.json()["messageId"]


def test_fifty_concurrent_identical_publishes_deliver_once(qstash, sink):
    with ThreadPoolExecutor(max_workers=16) as pool:
        responses = list(pool.map(
            lambda _: post(qstash, f"{sink.url}/race", Upstash_Deduplication_Id="race"),
            range(50)))
    assert all(r.status_code in (200, 202) for r in responses), [r.text for r in responses]
    ids = {r.json()["messageId"] for r in responses}
    assert len(ids) == 1
    assert sum(1 for r in responses if not r.json()["deduplicated"]) == 1
    sink.wait_for(1, "/race")
    time.sleep(0.5)
    assert len(sink.received("/race")) == 1


def test_tenants_have_separate_deduplication(qstash, other_tenant, sink):
    mine = post(qstash, f"{sink.url}/t", Upstash_Deduplication_Id="shared")
    theirs = http_client.post(f"{qstash.url}/v2/publish/{sink.url}/t", content=b"same",
                              headers={"Authorization": f"Bearer {other_tenant.token}",
                                 "Upstash-Deduplication-Id": "shared"})
    assert theirs.json()["deduplicated"] is False
    assert theirs.json()["messageId"] != mine.json()["messageId"]
