"""The loopback-only guard itself: it must stop, and report, what the SSRF tests rely on it for.

Every probe below stays on the machine even if the guard were broken: 0.0.0.0 and :: are
dialled locally by the kernel, and lookups ask for numeric-only answers.
"""

from __future__ import annotations

import asyncio
import socket

import aiohttp
import pytest

from django_qstash.core.attempts import DeliveryRequest
from django_qstash.core.destination_policy import GuardedResolver
from django_qstash.delivery.attempt import deliver
from tests.support.no_egress import EgressBlocked, is_local_lookup, is_loopback


def take(violations: list[str]) -> list[str]:
    """The violations so far, cleared so the autouse guard does not fail this test for them."""
    taken = list(violations)
    violations.clear()
    return taken


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.mark.parametrize("address", ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1"])
def test_loopback_addresses_pass(address):
    assert is_loopback(address)


@pytest.mark.parametrize("address", ["0.0.0.0", "::", "10.0.0.1", "169.254.169.254",
                                     "192.0.2.1", "::ffff:169.254.169.254", "fe80::1", "x"])
def test_other_addresses_do_not(address):
    assert not is_loopback(address)


@pytest.mark.parametrize("host, local", [
    (None, True), ("localhost", True), ("127.0.0.1", True), ("0x7f.1", True), ("::1", True),
    ("localhost.", False), ("example.com", False), ("metadata.google.internal", False),
])
def test_lookups_the_machine_answers_itself(host, local):
    assert is_local_lookup(host) is local


@pytest.mark.parametrize("family, address", [(socket.AF_INET, "0.0.0.0"),
                                             (socket.AF_INET6, "::")])
def test_a_plain_socket_connect_is_blocked_and_reported(loopback_guard, family, address):
    port = closed_port()
    with socket.socket(family) as sock, pytest.raises(EgressBlocked):
        sock.connect((address, port))
    assert take(loopback_guard) == [f"connect to {address} port {port}"]


def test_a_lookup_is_blocked_before_the_resolver_runs(loopback_guard):
    with pytest.raises(EgressBlocked):
        socket.getaddrinfo("guard-check.invalid", 80, flags=socket.AI_NUMERICHOST)
    assert take(loopback_guard) == ["lookup of 'guard-check.invalid'"]
    socket.getaddrinfo("localhost", 80)  # answered from /etc/hosts: allowed
    assert loopback_guard == []


@pytest.mark.parametrize("loop_factory", ["asyncio", "uvloop"])
def test_the_delivery_client_is_blocked_even_with_the_policy_off(
        loopback_guard, settings, sink, loop_factory):
    """The sender's own stack (aiohttp on asyncio or uvloop, the guarded resolver) with
    private destinations allowed: the guard alone keeps the request from 0.0.0.0, which the
    kernel would otherwise hand to the sink listening on this machine."""
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": True}
    port = sink.server.server_address[1]
    request = DeliveryRequest(url=f"http://0.0.0.0:{port}/escaped", method="POST", headers={},
                              body=b"", timeout_seconds=5, message_id="msg_guard", retried=0)

    async def run():
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            return await deliver(request, session=session, sign=lambda url, body: "sig",
                                 max_body=100)
    if loop_factory == "uvloop":
        uvloop = pytest.importorskip("uvloop")
        outcome = uvloop.run(run())
    else:
        outcome = asyncio.run(run())
    assert outcome.status is None and not outcome.delivered, outcome
    assert take(loopback_guard) == [f"connect to 0.0.0.0 port {port}"]
    assert sink.received() == []


def test_loopback_traffic_is_untouched(loopback_guard, sink):
    with socket.create_connection(sink.server.server_address[:2], timeout=5):
        pass
    assert loopback_guard == []
