"""SSRF guard, end to end: production settings refuse private targets, into events and the DLQ."""

from __future__ import annotations

import time

import pytest

from tests.e2e.helpers import api, publish, wait_for_state

pytestmark = pytest.mark.django_db(transaction=True)

# Each host stands for a class: name for loopback, legacy IPv4 forms, IPv6 loopback,
# unspecified, cloud metadata (link-local), IPv4-mapped IPv6, private network.
REFUSED_HOSTS = ["localhost", "127.1", "[::1]", "0.0.0.0", "169.254.169.254",
                 "[::ffff:127.0.0.1]", "10.0.0.1", "[fe80::1]", "224.0.0.1"]


@pytest.fixture
def production(settings):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": False,
                       "ALLOWED_DESTINATIONS": []}
    return settings


def dlq_entry(qstash, message_id: str, timeout: float = 10) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        entries = api(qstash, "GET", "/v2/dlq", params={"messageId": message_id}).json()["messages"]
        if entries:
            return entries[0]
        time.sleep(0.05)
    raise AssertionError(f"{message_id} never reached the DLQ")


@pytest.mark.parametrize("host", REFUSED_HOSTS)
def test_private_destinations_are_refused_and_dead_lettered(qstash, sink, production, host):
    port = sink.server.server_address[1]
    message_id = publish(qstash, f"http://{host}:{port}/secret", "x", Upstash_Retries="3")
    states = wait_for_state(qstash, message_id, "FAILED")
    assert "RETRY" not in states  # policy refusals are not retried
    events = api(qstash, "GET", "/v2/events", params={"messageId": message_id}).json()["events"]
    failed = next(e for e in events if e["state"] == "FAILED")
    assert failed["error"].startswith("refused: destination") and "non-public" in failed["error"]
    entry = dlq_entry(qstash, message_id)
    assert "non-public" in entry["error"] and entry["responseStatus"] == 0
    assert sink.received("/secret") == []


def test_callbacks_to_private_addresses_are_refused(qstash, sink, production):
    production.QSTASH = {**production.QSTASH, "ALLOWED_DESTINATIONS": ["127.0.0.1/32"]}
    port = sink.server.server_address[1]
    publish(qstash, f"http://127.0.0.1:{port}/ok", "x",
            Upstash_Callback=f"http://[::1]:{port}/cb",
            Upstash_Failure_Callback=f"http://169.254.169.254:{port}/fcb")
    sink.wait_for(1, "/ok")
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        callbacks = api(qstash, "GET", "/v2/dlq").json()["messages"]
        if callbacks:
            break
        time.sleep(0.05)
    [entry] = callbacks
    assert entry["url"] == f"http://[::1]:{port}/cb" and "non-public" in entry["error"]
    assert sink.received("/cb") == [] and sink.received("/fcb") == []


def test_allow_list_opens_a_network(qstash, sink, production):
    production.QSTASH = {**production.QSTASH, "ALLOWED_DESTINATIONS": ["127.0.0.0/8"]}
    port = sink.server.server_address[1]
    publish(qstash, f"http://127.0.0.1:{port}/by-network", "x")
    sink.wait_for(1, "/by-network")


def test_allow_list_opens_a_host(qstash, sink, production):
    # "localhost" may also resolve to ::1, where nothing listens: the next address is tried.
    production.QSTASH = {**production.QSTASH, "ALLOWED_DESTINATIONS": ["localhost"]}
    port = sink.server.server_address[1]
    publish(qstash, f"http://localhost:{port}/by-name", "x")
    sink.wait_for(1, "/by-name")


def test_dev_mode_allows_loopback(qstash, sink, settings):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": True}
    port = sink.server.server_address[1]
    publish(qstash, f"http://localhost:{port}/dev", "x")
    sink.wait_for(1, "/dev")


@pytest.mark.parametrize("destination", ["http://", "https://", "http:///path", "https://:443/x",
                                         "http://host:70000/"])
def test_invalid_destinations_are_400_at_publish(qstash, destination):
    response = api(qstash, "POST", f"/v2/publish/{destination}", content=b"x")
    assert response.status_code == 400, response.text
    assert "host" in response.json()["error"] or "port" in response.json()["error"]


def test_invalid_callback_and_endpoint_urls_are_400(qstash, sink):
    bad_callback = api(qstash, "POST", f"/v2/publish/{sink.url}", content=b"x",
                       headers={"Upstash-Callback": "http://"})
    assert bad_callback.status_code == 400 and "Upstash-Callback" in bad_callback.json()["error"]
    bad_endpoint = api(qstash, "POST", "/v2/topics/g/endpoints",
                       json={"endpoints": [{"url": "https://:1/"}]})
    assert bad_endpoint.status_code == 400 and "host" in bad_endpoint.json()["error"]
