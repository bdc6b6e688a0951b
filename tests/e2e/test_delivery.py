"""Publish through the HTTP API and watch real deliveries arrive at a loopback destination."""

from __future__ import annotations

import base64
import json
import time

import jwt
import pytest

from django_qstash.core.signing import body_hash
from tests.e2e.helpers import api, events, publish, wait_for_state

pytestmark = pytest.mark.django_db(transaction=True)


def test_delivery_is_signed_byte_exact_and_carries_headers(qstash, sink):
    body = b"\xff\x00binary\x80 body"
    message_id = publish(qstash, f"{sink.url}/hook?x=1", body,
                         Content_Type="application/octet-stream",
                         Upstash_Method="PUT", Upstash_Forward_My_Header="forwarded")
    [arrival] = sink.wait_for(1)
    assert arrival.method == "PUT"
    assert arrival.path == "/hook?x=1"
    assert arrival.body == body
    assert arrival.headers["Content-Type"] == "application/octet-stream"
    assert arrival.headers["My-Header"] == "forwarded"
    assert arrival.headers["User-Agent"] == "Upstash-QStash"
    assert arrival.headers["Upstash-Message-Id"] == message_id
    assert arrival.headers["Upstash-Retried"] == "0"
    claims = jwt.decode(arrival.headers["Upstash-Signature"], qstash.current_key,
                        algorithms=["HS256"], issuer="Upstash")
    assert claims["sub"] == f"{sink.url}/hook?x=1"
    assert claims["body"] == body_hash(body)
    assert wait_for_state(qstash, message_id, "DELIVERED")[:2] == ["CREATED", "ACTIVE"]


def test_failed_attempt_is_retried_with_retry_delay_expression(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/flaky/1", "x", Upstash_Retry_Delay="100 * (1 + retried)")
    first, second = sink.wait_for(2)
    assert (first.headers["Upstash-Retried"], second.headers["Upstash-Retried"]) == ("0", "1")
    assert second.at - first.at >= 0.09
    states = wait_for_state(qstash, message_id, "DELIVERED")
    assert states == ["CREATED", "ACTIVE", "ERROR", "RETRY", "ACTIVE", "DELIVERED"]


def test_retry_after_from_destination_beats_default_backoff(qstash, sink):
    # The default backoff would wait 12 s before the first retry; Retry-After: 0 means now.
    sink.response_headers["Retry-After"] = "0"
    publish(qstash, f"{sink.url}/flaky/1", "x")
    first, second = sink.wait_for(2, timeout=8)
    assert second.at - first.at < 5


def test_exhausted_retries_land_in_dlq_with_the_last_response(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/status/404", "payload", Upstash_Retries="1",
                         Upstash_Retry_Delay="50")
    sink.wait_for(2)
    wait_for_state(qstash, message_id, "FAILED")
    dlq = api(qstash, "GET", "/v2/dlq").json()["messages"]
    [entry] = [m for m in dlq if m["messageId"] == message_id]
    assert entry["responseStatus"] == 404
    assert entry["responseBody"] == "404 answer"
    assert entry["body"] == "payload"
    assert entry["maxRetries"] == 1
    assert api(qstash, "GET", f"/v2/dlq/{entry['dlqId']}").json()["dlqId"] == entry["dlqId"]


def test_non_retryable_489_fails_at_once(qstash, sink):
    sink.response_headers["Upstash-NonRetryable-Error"] = "true"
    message_id = publish(qstash, f"{sink.url}/status/489", "x", Upstash_Retries="3")
    wait_for_state(qstash, message_id, "FAILED")
    assert len(sink.received("/status/489")) == 1


def test_timeout_counts_as_a_failed_attempt(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/sleep/3", "x", Upstash_Timeout="1s",
                         Upstash_Retries="0")
    wait_for_state(qstash, message_id, "FAILED", timeout=10)
    [entry] = api(qstash, "GET", "/v2/dlq").json()["messages"]
    assert entry["responseStatus"] == 0
    assert "timeout" in entry["error"]


def test_callback_after_each_attempt_and_failure_callback_after_the_last(qstash, sink):
    message_id = publish(
        qstash, f"{sink.url}/status/500", "source", Upstash_Retries="1",
        Upstash_Retry_Delay="50", Upstash_Callback=f"{sink.url}/cb",
        Upstash_Failure_Callback=f"{sink.url}/failure",
        Upstash_Callback_Forward_Cb_Token="secret")
    callbacks = sink.wait_for(2, "/cb")
    [failure] = sink.wait_for(1, "/failure")
    payloads = [json.loads(c.body) for c in callbacks]
    assert sorted(p["retried"] for p in payloads) == [0, 1]
    assert all(p["sourceMessageId"] == message_id and p["status"] == 500 for p in payloads)
    assert base64.b64decode(payloads[0]["sourceBody"]) == b"source"
    assert base64.b64decode(payloads[0]["body"]) == b"500 answer"
    assert callbacks[0].headers["Cb-Token"] == "secret"
    failure_payload = json.loads(failure.body)
    assert failure_payload["dlqId"] and failure_payload["maxRetries"] == 1
    # Callbacks are signed messages of their own, for their own URL.
    claims = jwt.decode(failure.headers["Upstash-Signature"], qstash.current_key,
                        algorithms=["HS256"], issuer="Upstash")
    assert claims["sub"] == f"{sink.url}/failure"


def test_delay_and_not_before_hold_the_message(qstash, sink):
    started = time.time()
    publish(qstash, f"{sink.url}/delayed", "x", Upstash_Delay="1s")
    publish(qstash, f"{sink.url}/not-before", "x", Upstash_Not_Before=str(int(started) + 2))
    [delayed] = sink.wait_for(1, "/delayed", timeout=10)
    [later] = sink.wait_for(1, "/not-before", timeout=10)
    assert delayed.at - started >= 0.95
    assert later.at >= int(started) + 2


def test_cancel_a_delayed_message(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/never", "x", Upstash_Delay="1h")
    response = api(qstash, "DELETE", f"/v2/messages/{message_id}")
    assert response.status_code == 200 and response.json() == {"cancelled": 1}
    assert events(qstash, message_id) == ["CREATED", "CANCEL_REQUESTED", "CANCELED"]
    assert api(qstash, "DELETE", f"/v2/messages/{message_id}").status_code == 404


def message_state(qstash, message_id: str) -> tuple:
    response = api(qstash, "GET", f"/v2/messages/{message_id}")
    assert response.status_code == 200, response.text
    data = response.json()
    return data["state"], data["final"]


def test_get_message_shows_its_state_and_whether_it_is_final(qstash, sink):
    waiting = publish(qstash, f"{sink.url}/never", "x", Upstash_Delay="1h")
    assert message_state(qstash, waiting) == ("CREATED", False)
    assert api(qstash, "DELETE", f"/v2/messages/{waiting}").json() == {"cancelled": 1}
    canceled = api(qstash, "GET", f"/v2/messages/{waiting}").json()
    assert (canceled["state"], canceled["final"]) == ("CANCELED", True)
    assert canceled["messageId"] == waiting and canceled["finishedAt"] >= canceled["createdAt"]
    again = api(qstash, "DELETE", f"/v2/messages/{waiting}")
    assert again.status_code == 404 and again.json() == {
        "error": f"message {waiting} is already canceled"}

    delivered = publish(qstash, f"{sink.url}/fine", "x")
    wait_for_state(qstash, delivered, "DELIVERED")
    assert message_state(qstash, delivered) == ("DELIVERED", True)
    failed = publish(qstash, f"{sink.url}/status/404", "x", Upstash_Retries="0")
    wait_for_state(qstash, failed, "FAILED")
    assert message_state(qstash, failed) == ("FAILED", True)
    retrying = publish(qstash, f"{sink.url}/status/500", "x", Upstash_Retries="3",
                       Upstash_Retry_Delay="3600000")
    wait_for_state(qstash, retrying, "RETRY")
    assert message_state(qstash, retrying) == ("RETRY", False)


def test_get_message_shows_a_cancel_that_waits_for_the_attempt_in_flight(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/sleep/1.5", "x")
    sink.wait_for(1, "/sleep/")
    assert message_state(qstash, message_id) == ("ACTIVE", False)
    assert api(qstash, "DELETE", f"/v2/messages/{message_id}").json() == {"cancelled": 1}
    assert message_state(qstash, message_id) == ("CANCEL_REQUESTED", False)
    again = api(qstash, "DELETE", f"/v2/messages/{message_id}")
    assert again.status_code == 404
    assert "already requested" in again.json()["error"]
    wait_for_state(qstash, message_id, "DELIVERED")  # the attempt in flight still counts
    assert message_state(qstash, message_id) == ("DELIVERED", True)


def test_bulk_cancel_by_ids_in_body_or_query_and_by_filter(qstash, sink):
    ids = [publish(qstash, f"{sink.url}/bulk", "x", Upstash_Delay="1h") for _ in range(5)]
    body = api(qstash, "DELETE", "/v2/messages", json={"messageIds": ids[:2]})
    assert body.json() == {"cancelled": 2}
    query = api(qstash, "DELETE", "/v2/messages", params=[("messageIds", ids[2])])
    assert query.json() == {"cancelled": 1}
    rest = api(qstash, "DELETE", "/v2/messages", params={"url": f"{sink.url}/bulk"})
    assert rest.json() == {"cancelled": 2}


def test_get_message_shape(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/later", '{"a":1}', Content_Type="application/json",
                         Upstash_Delay="1h", Upstash_Label="a,b", Upstash_Retries="2")
    message = api(qstash, "GET", f"/v2/messages/{message_id}").json()
    assert message["messageId"] == message_id
    assert message["body"] == '{"a":1}'
    assert message["header"]["Content-Type"] == ["application/json"]
    assert message["maxRetries"] == 2
    assert message["label"] == "a" and message["labels"] == ["a", "b"]
    assert message["notBefore"] - message["createdAt"] == 3_600_000


def test_batch_accepts_good_items_and_reports_bad_ones(qstash, sink):
    items = [
        {"destination": f"{sink.url}/b1", "headers": {"upstash-forward-x": "1"}, "body": "one"},
        {"destination": "", "body": "bad"},
        {"destination": f"{sink.url}/b2", "headers": {"Upstash-Delay": "nonsense"}, "body": "bad"},
        {"destination": f"{sink.url}/b3", "body": None, "queue": None},
    ]
    response = api(qstash, "POST", "/v2/batch", json=items)
    assert response.status_code == 200
    result = response.json()
    assert "messageId" in result[0] and "messageId" in result[3]
    assert "error" in result[1] and "Upstash-Delay" in result[2]["error"]
    sink.wait_for(1, "/b1")
    sink.wait_for(1, "/b3")
    assert sink.received("/b1")[0].headers["X"] == "1"


def test_events_paginate_newest_first_with_cursor(qstash, sink):
    for _ in range(3):
        publish(qstash, f"{sink.url}/page", "x", Upstash_Delay="1h")
    first = api(qstash, "GET", "/v2/events", params={"count": 2}).json()
    assert len(first["events"]) == 2 and first["cursor"]
    second = api(qstash, "GET", "/v2/events", params={"count": 2, "cursor": first["cursor"]}).json()
    assert len(second["events"]) == 1 and "cursor" not in second
    assert first["events"][0]["time"] >= second["events"][0]["time"]
    logs = api(qstash, "GET", "/v2/logs", params={"state": "CREATED"}).json()
    assert len(logs["logs"]) == 3


def test_rotated_keys_sign_new_deliveries(qstash, sink):
    before = api(qstash, "GET", "/v2/keys").json()
    after = api(qstash, "POST", "/v2/keys/rotate").json()
    assert after["current"] == before["next"] and after["next"] != before["next"]
    publish(qstash, f"{sink.url}/rotated", "x")
    [arrival] = sink.wait_for(1, "/rotated")
    jwt.decode(arrival.headers["Upstash-Signature"], after["current"], algorithms=["HS256"],
               issuer="Upstash")
