"""Mixed batches, labels as filters, and redaction that hides values but delivers them."""

from __future__ import annotations

import hashlib

import pytest

from tests.e2e.helpers import api, publish, wait_for_state

pytestmark = pytest.mark.django_db(transaction=True)


def test_mixed_batch_is_aligned_with_its_input(qstash, sink):
    api(qstash, "POST", "/v2/topics/pair/endpoints",
        json={"endpoints": [{"url": f"{sink.url}/g1"}, {"url": f"{sink.url}/g2"}]})
    items = [
        {"destination": f"{sink.url}/url", "headers": {"UPSTASH-FORWARD-CASE": "any"}, "body": "u"},
        {"destination": "pair", "body": "g"},
        {"destination": f"{sink.url}/queued", "queue": "batchq", "body": "q"},
        {"destination": "missing-group", "body": "bad"},
    ]
    result = api(qstash, "POST", "/v2/batch", json=items).json()
    assert "messageId" in result[0]
    assert isinstance(result[1], list) and {r["url"] for r in result[1]} == {
        f"{sink.url}/g1", f"{sink.url}/g2"}
    assert "messageId" in result[2]
    assert "error" in result[3]
    sink.wait_for(4)
    assert sink.received("/url")[0].headers["Case"] == "any"
    assert api(qstash, "GET", f"/v2/messages/{result[2]['messageId']}").json()["queueName"] == "batchq"


def test_labels_filter_logs_dlq_and_cancel(qstash, sink):
    failed = publish(qstash, f"{sink.url}/status/400", "x", Upstash_Label="billing,eu",
                     Upstash_Retries="0")
    publish(qstash, f"{sink.url}/ok", "x", Upstash_Label="shipping")
    wait_for_state(qstash, failed, "FAILED")
    logs = api(qstash, "GET", "/v2/events", params={"label": "eu"}).json()["events"]
    assert logs and {e["messageId"] for e in logs} == {failed}
    assert logs[0]["labels"] == ["billing", "eu"] and logs[0]["label"] == "billing"
    dlq = api(qstash, "GET", "/v2/dlq", params=[("label", "x"), ("label", "billing")]).json()
    assert [m["messageId"] for m in dlq["messages"]] == [failed]
    later = [publish(qstash, f"{sink.url}/later", "x", Upstash_Delay="1h", Upstash_Label=label)
             for label in ("keep", "drop", "drop")]
    assert api(qstash, "DELETE", "/v2/messages", params={"label": "drop"}).json() == {"cancelled": 2}
    assert api(qstash, "GET", f"/v2/messages/{later[0]}").status_code == 200


def test_redacted_fields_are_hidden_by_the_api_and_delivered_in_full(qstash, sink):
    message_id = publish(qstash, f"{sink.url}/status/500", "secret body",
                         Upstash_Forward_Authorization="Bearer t0ken",
                         Upstash_Forward_Visible="yes", Upstash_Retries="0",
                         Upstash_Redact_Fields="body,header[Authorization]")
    [arrival] = sink.wait_for(1)
    assert arrival.body == b"secret body" and arrival.headers["Authorization"] == "Bearer t0ken"
    wait_for_state(qstash, message_id, "FAILED")
    digest = hashlib.sha256(b"secret body").hexdigest()
    message = api(qstash, "GET", f"/v2/messages/{message_id}").json()
    assert message["body"] == f"REDACTED:{digest}"
    assert message["header"]["Authorization"] == [
        f"REDACTED:{hashlib.sha256(b'Bearer t0ken').hexdigest()}"]
    assert message["header"]["Visible"] == ["yes"]
    [entry] = api(qstash, "GET", "/v2/dlq").json()["messages"]
    assert entry["body"] == f"REDACTED:{digest}"
    logs = api(qstash, "GET", "/v2/events", params={"messageId": message_id}).json()["events"]
    assert all("secret" not in str(e) and "t0ken" not in str(e) for e in logs)
    # A retry from the DLQ delivers the original values again.
    api(qstash, "POST", f"/v2/dlq/retry/{entry['dlqId']}")
    second = sink.wait_for(2)[1]
    assert second.body == b"secret body"
