"""Forwarded headers, end to end on a raw listener: no smuggling, no framing, no duplicates.

Every request the destination receives is checked byte for byte: one Host (the destination's),
one Content-Length (the body's), no hop-by-hop header, and exactly one of each header the
server sets, with the server's value, whatever the publisher forwarded.
"""

from __future__ import annotations

import dataclasses
import json
import time

import pytest

from django_qstash.core import clock, ids
from django_qstash.core.signing import verify
from django_qstash.models import DeliveryAttempt, Event, Message
from tests.e2e.helpers import api, events, wait_for_state
from tests.support.raw_listener import answer_for, start_raw_listener

pytestmark = pytest.mark.django_db(transaction=True)

# A chunked body that ends at once, followed by a second request for the same connection.
SMUGGLING_BODY = (b"0\r\n\r\nPOST /smuggled HTTP/1.1\r\nHost: victim.example\r\n"
                  b"Content-Length: 0\r\n\r\n")
# Hop-by-hop and framing headers: they describe one connection, never the message.
HOP_CASES = [
    ("Transfer-Encoding", "chunked"), ("Content-Length", "0"), ("Host", "evil.example"),
    ("Connection", "close"), ("Keep-Alive", "timeout=1"), ("TE", "trailers"),
    ("Trailer", "X-Late"), ("Upgrade", "h2c"), ("Proxy-Authorization", "Basic eDp5"),
    ("Proxy-Connection", "keep-alive"), ("Proxy-Anything", "x"), ("Expect", "100-continue"),
]
# Headers the server sets: a forwarded copy must never arrive beside (or instead of) them.
SERVER_CASES = [
    ("Upstash-Signature", "forged.jwt.token"), ("Upstash-Message-Id", "msg_forged"),
    ("Upstash-Retried", "99"), ("User-Agent", "forged-agent"),
    ("Upstash-Topic-Name", "forged-group"), ("Upstash-Schedule-Id", "scd_forged"),
    ("Upstash-Caller-Ip", "203.0.113.9"),
]
CASES = HOP_CASES + SERVER_CASES


@pytest.fixture
def raw():
    listener = start_raw_listener()
    yield listener
    listener.close()


@pytest.fixture
def tenant_b(qstash, other_tenant):
    return dataclasses.replace(other_tenant, url=qstash.url)


def publish(qstash, url: str, body: bytes = b"payload", headers: dict | None = None) -> str:
    response = api(qstash, "POST", f"/v2/publish/{url}", content=body, headers=headers or {})
    assert response.status_code == 200, response.text
    return response.json()["messageId"]


def recorded_bodies(message_id: str) -> list[bytes]:
    return [bytes(body) for body in DeliveryAttempt.objects.filter(message_id=message_id)
            .order_by("pk").values_list("response_body", flat=True)]


def assert_clean(request, qstash, raw, body: bytes, message_id: str | None = None,
                 retried: str = "0") -> None:
    """One Host, one Content-Length for the whole body, no hop header, the server's own
    headers once each, and a signature that verifies."""
    assert request.values("Host") == [raw.url.removeprefix("http://")]
    assert request.values("Content-Length") == [str(len(body))] and request.body == body
    for name, _ in HOP_CASES:
        if name not in ("Host", "Content-Length"):
            assert request.values(name) == [], (name, request.head)
    assert request.values("User-Agent") == ["Upstash-QStash"]
    assert request.values("Upstash-Retried") == [retried]
    [message] = request.values("Upstash-Message-Id")
    assert message == message_id if message_id else message.startswith("msg_")
    assert request.values("Upstash-Topic-Name") == []
    assert request.values("Upstash-Schedule-Id") == []
    assert len(request.values("Upstash-Caller-Ip")) <= 1
    assert "203.0.113.9" not in request.values("Upstash-Caller-Ip")
    [signature] = request.values("Upstash-Signature")
    verify(token=signature, body=body, url=f"{raw.url}{request.path}",
           current_key=qstash.current_key, next_key=qstash.next_key)


def test_forwarded_transfer_encoding_cannot_smuggle_a_request(qstash, tenant_b, raw):
    """Tenant A's chunked trick must not run a second request, nor answer tenant B's message."""
    a = publish(qstash, f"{raw.url}/a", SMUGGLING_BODY,
                {"Upstash-Forward-Transfer-Encoding": "chunked", "Upstash-Retries": "0"})
    wait_for_state(qstash, a, "DELIVERED")
    b = publish(tenant_b, f"{raw.url}/b", b"tenant b's message", {"Upstash-Retries": "0"})
    wait_for_state(tenant_b, b, "DELIVERED")
    raw.wait_for(2)
    time.sleep(0.2)  # anything smuggled would be parsed by now
    assert raw.paths() == ["/a", "/b"]
    first, second = raw.requests
    assert_clean(first, qstash, raw, SMUGGLING_BODY, a)
    assert_clean(second, tenant_b, raw, b"tenant b's message", b)
    assert recorded_bodies(a) == [answer_for("POST", "/a")]
    assert recorded_bodies(b) == [answer_for("POST", "/b")]


@pytest.mark.parametrize("length", ["0", "3", "1000"])
def test_forwarded_content_length_cannot_reframe_the_body(qstash, raw, length):
    message_id = publish(qstash, f"{raw.url}/cl", b"hello world",
                         {"Upstash-Forward-Content-Length": length, "Upstash-Timeout": "3s",
                          "Upstash-Retries": "0"})
    wait_for_state(qstash, message_id, "DELIVERED", timeout=10)
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"hello world", message_id)


def test_forwarded_host_cannot_replace_the_destination_host(qstash, raw):
    message_id = publish(qstash, f"{raw.url}/host",
                         headers={"upstash-forward-host": "evil.example"})
    wait_for_state(qstash, message_id, "DELIVERED")
    assert_clean(raw.wait_for(1)[0], qstash, raw, b"payload", message_id)


@pytest.mark.parametrize("name, value", CASES, ids=[name for name, _ in CASES])
def test_forwarded_header_never_reaches_the_destination(qstash, raw, name, value):
    message_id = publish(qstash, f"{raw.url}/one", headers={
        f"Upstash-Forward-{name}": value, "Upstash-Timeout": "3s", "Upstash-Retries": "0"})
    wait_for_state(qstash, message_id, "DELIVERED", timeout=10)
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"payload", message_id)
    assert value not in request.values(name), request.head


def test_workflow_style_forwarded_server_headers_are_accepted_and_replaced(qstash, raw):
    """Workflow SDKs forward every header they received, ours included: the server's wins."""
    headers = {f"Upstash-Forward-{name}": value for name, value in CASES
               if name.lower() != "expect"}
    headers["Upstash-Forward-X-Kept"] = "kept"
    message_id = publish(qstash, f"{raw.url}/workflow", headers=headers)
    wait_for_state(qstash, message_id, "DELIVERED")
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"payload", message_id)
    assert request.values("X-Kept") == ["kept"]
    stored = api(qstash, "GET", f"/v2/messages/{message_id}").json()["header"]
    assert set(stored) - {"Content-Type"} == {"X-Kept"}  # what is stored is what is sent


def test_callback_forward_headers_follow_the_same_rule(qstash, raw):
    headers = {f"Upstash-Callback-Forward-{name}": value for name, value in CASES}
    headers.update({"Upstash-Callback": f"{raw.url}/cb", "Upstash-Callback-Forward-X-Cb": "cb"})
    message_id = publish(qstash, f"{raw.url}/src", headers=headers)
    wait_for_state(qstash, message_id, "DELIVERED")
    requests = raw.wait_for(2)
    callback = next(r for r in requests if r.path == "/cb")
    assert_clean(callback, qstash, raw, callback.body, None)
    assert callback.values("X-Cb") == ["cb"]
    assert json.loads(callback.body)["sourceMessageId"] == message_id


def test_header_forward_does_not_duplicate_the_user_agent(qstash, raw):
    message_id = publish(qstash, f"{raw.url}/all", headers={
        "Upstash-Header-Forward": "true", "User-Agent": "publisher/1.0", "X-Passed": "yes"})
    wait_for_state(qstash, message_id, "DELIVERED")
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"payload", message_id)
    assert request.values("X-Passed") == ["yes"]


def test_batch_items_and_url_group_defaults_follow_the_same_rule(qstash, raw):
    forwarded = {f"Upstash-Forward-{name}": value for name, value in CASES
                 if name.lower() != "expect"}
    group = api(qstash, "POST", "/v2/topics/hdr/endpoints",
                json={"endpoints": [{"url": f"{raw.url}/group"}]})
    assert group.status_code == 200, group.text
    patched = api(qstash, "PATCH", "/v2/topics/hdr", json={"headers": forwarded})
    assert patched.status_code == 200, patched.text
    batch = api(qstash, "POST", "/v2/batch", json=[
        {"destination": f"{raw.url}/item", "headers": forwarded, "body": "item"},
        {"destination": "hdr", "headers": {}, "body": "group"}])
    assert batch.status_code == 200, batch.text
    item, [grouped] = batch.json()
    for message_id in (item["messageId"], grouped["messageId"]):
        wait_for_state(qstash, message_id, "DELIVERED")
    requests = {r.path: r for r in raw.wait_for(2)}
    assert_clean(requests["/item"], qstash, raw, b"item", item["messageId"])
    group_request = requests["/group"]
    assert group_request.values("Upstash-Topic-Name") == ["hdr"]
    group_request.headers = [(k, v) for k, v in group_request.headers
                             if k.lower() != "upstash-topic-name"]
    assert_clean(group_request, qstash, raw, b"group", grouped["messageId"])


def stored_row(qstash, url: str, body: bytes, headers: dict, **fields) -> str:
    """A message as a row written before forwarded headers were filtered."""
    now = clock.now()
    message = Message.objects.create(
        id=ids.message_id(), tenant=qstash.tenant, url=url, headers=headers, body=body,
        not_before=now, created_at=now, **fields)
    Event.objects.create(tenant=qstash.tenant, message_id=message.id, state="CREATED", time=now,
                         url=url)
    return message.id


def test_rows_stored_before_filtering_are_filtered_when_sent(qstash, tenant_b, raw):
    headers = {name: [value] for name, value in CASES if name.lower() != "expect"}
    headers.update({"Transfer-Encoding": ["chunked"], "transfer-encoding": ["chunked"],
                    "user-agent": ["lower-agent"], "X-Kept": ["kept"]})
    a = stored_row(qstash, f"{raw.url}/old", SMUGGLING_BODY, headers,
                   callback=f"{raw.url}/old-cb", callback_headers=headers)
    wait_for_state(qstash, a, "DELIVERED")
    b = publish(tenant_b, f"{raw.url}/b", b"b")
    wait_for_state(tenant_b, b, "DELIVERED")
    requests = raw.wait_for(3)
    time.sleep(0.2)
    assert sorted(raw.paths()) == ["/b", "/old", "/old-cb"]
    by_path = {r.path: r for r in requests}
    assert_clean(by_path["/old"], qstash, raw, SMUGGLING_BODY, a)
    assert by_path["/old"].values("X-Kept") == ["kept"]
    assert_clean(by_path["/old-cb"], qstash, raw, by_path["/old-cb"].body)
    assert recorded_bodies(b) == [answer_for("POST", "/b")]


@pytest.mark.parametrize("name, value", [("X-Injected", "a\r\nX-Evil: 1"), ("X-Esc", "a\x1bb"),
                                         ("X-Bad Name", "v"), ("X-Evil\r\nHost", "v")])
def test_stored_rows_with_unsendable_headers_fail_without_retrying(qstash, raw, name, value):
    message_id = stored_row(qstash, f"{raw.url}/bad", b"x", {name: [value]}, max_retries=3)
    states = wait_for_state(qstash, message_id, "FAILED")
    assert "RETRY" not in states
    [attempt] = DeliveryAttempt.objects.filter(message_id=message_id)
    assert "header" in attempt.error and attempt.response_status is None
    assert raw.paths() == [] and "DELIVERED" not in events(qstash, message_id)


@pytest.mark.parametrize("headers, content_type", [
    # The forwarded one is the explicit choice for the destination, whichever comes first.
    ({"Content-Type": "text/plain", "Upstash-Forward-Content-Type": "application/json"},
     "application/json"),
    ({"Upstash-Forward-Content-Type": "application/json", "Content-Type": "text/plain"},
     "application/json"),
    ({"Content-Type": "text/plain"}, "text/plain"),
])
def test_a_delivery_carries_one_content_type(qstash, raw, headers, content_type):
    message_id = publish(qstash, f"{raw.url}/ct", headers=headers)
    wait_for_state(qstash, message_id, "DELIVERED")
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"payload", message_id)
    assert request.values("Content-Type") == [content_type], request.head
    detail = api(qstash, "GET", f"/v2/messages/{message_id}").json()
    assert detail["header"]["Content-Type"] == [content_type]


def test_a_forwarded_accept_encoding_replaces_the_clients_own(qstash, raw):
    message_id = publish(qstash, f"{raw.url}/ae", headers={
        "Upstash-Forward-Accept-Encoding": "identity", "Upstash-Forward-Accept": "text/csv"})
    wait_for_state(qstash, message_id, "DELIVERED")
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"payload", message_id)
    assert request.values("Accept-Encoding") == ["identity"], request.head
    assert request.values("Accept") == ["text/csv"], request.head


def test_a_url_groups_default_content_type_and_accept_encoding_yield_to_the_publishers(qstash,
                                                                                       raw):
    group = api(qstash, "POST", "/v2/topics/enc/endpoints",
                json={"endpoints": [{"url": f"{raw.url}/group"}]})
    assert group.status_code == 200, group.text
    patched = api(qstash, "PATCH", "/v2/topics/enc", json={"headers": {
        "Content-Type": "text/plain", "Upstash-Forward-Accept-Encoding": "gzip"}})
    assert patched.status_code == 200, patched.text
    response = api(qstash, "POST", "/v2/publish/enc", content=b"payload", headers={
        "Content-Type": "application/json", "Upstash-Forward-Accept-Encoding": "identity"})
    assert response.status_code == 200, response.text
    [published] = response.json()
    wait_for_state(qstash, published["messageId"], "DELIVERED")
    [request] = raw.wait_for(1)
    assert request.values("Content-Type") == ["application/json"], request.head
    assert request.values("Accept-Encoding") == ["identity"], request.head


def test_rows_stored_with_two_content_types_send_one(qstash, raw):
    message_id = stored_row(qstash, f"{raw.url}/two", b"x", {
        "Content-Type": ["text/plain", "application/json"],
        "Accept-Encoding": ["gzip", "identity"], "accept-encoding": ["br"]})
    wait_for_state(qstash, message_id, "DELIVERED")
    [request] = raw.wait_for(1)
    assert_clean(request, qstash, raw, b"x", message_id)
    assert request.values("Content-Type") == ["application/json"], request.head
    # Which of two spellings comes last depends on the database's key order; one is sent.
    assert len(request.values("Accept-Encoding")) == 1, request.head
    assert request.values("Accept-Encoding")[0] in ("identity", "br"), request.head
