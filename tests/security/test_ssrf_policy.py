"""SSRF guard, unit level: which addresses are public, the allow-list, resolve-once connects."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest

from django_qstash.core.attempts import DeliveryRequest
from django_qstash.core.destination_policy import GuardedResolver, checked_addresses, is_public
from django_qstash.core.destination_url import parse_destination
from django_qstash.delivery.attempt import deliver
from django_qstash.exceptions import BadRequest, DestinationRefused

NON_PUBLIC = [
    "127.0.0.1", "127.255.255.254", "0.0.0.0", "10.1.2.3", "172.16.0.1", "192.168.1.1",
    "169.254.169.254", "100.64.0.1", "224.0.0.1", "239.255.255.250", "255.255.255.255",
    "240.0.0.1", "198.18.0.1",
    "::1", "::", "fe80::1", "fe80::1%1", "fc00::1", "fd12:3456::1", "ff02::1", "ff0e::1",
    "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::127.0.0.1",
    "2002:7f00:1::1",  # 6to4 around 127.0.0.1
    "64:ff9b::a9fe:a9fe",  # NAT64 around 169.254.169.254
]
PUBLIC = ["93.184.216.34", "1.1.1.1", "2606:4700:4700::1111", "::ffff:93.184.216.34",
          "64:ff9b::5db8:d822"]


@pytest.mark.parametrize("address", NON_PUBLIC)
def test_non_public_addresses(address):
    assert not is_public(address)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses(address):
    assert is_public(address)


@pytest.fixture
def production(settings):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": False,
                       "ALLOWED_DESTINATIONS": []}
    return settings


def fixed(*addresses: str):
    calls: list[str] = []

    def resolver(host: str, port: int) -> list[str]:
        calls.append(host)
        return list(addresses)
    resolver.calls = calls  # type: ignore[attr-defined]
    return resolver


def test_any_non_public_answer_refuses(production):
    with pytest.raises(DestinationRefused, match="169.254.169.254"):
        checked_addresses("meta.test", 80, fixed("93.184.216.34", "169.254.169.254"))
    assert checked_addresses("ok.test", 80, fixed("93.184.216.34")) == ["93.184.216.34"]


def test_allow_list_hosts_and_networks(production):
    production.QSTASH = {**production.QSTASH, "ALLOWED_DESTINATIONS": [
        "hooks.internal", "*.svc.local", "10.0.0.0/8", "fd00::/8"]}
    assert checked_addresses("hooks.internal", 80, fixed("192.168.0.9"))
    assert checked_addresses("a.b.svc.local", 80, fixed("127.0.0.1"))
    assert checked_addresses("x.test", 80, fixed("10.9.8.7", "fd00::5"))
    for host, address in [("svc.local", "127.0.0.1"), ("x.test", "192.168.1.1"),
                          ("hooks.internal.evil", "127.0.0.1")]:
        with pytest.raises(DestinationRefused):
            checked_addresses(host, 80, fixed(address))


def test_dev_mode_allows_loopback(settings):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": True}
    assert checked_addresses("localhost", 80, fixed("127.0.0.1", "::1")) == ["127.0.0.1", "::1"]


def test_dns_failure_is_a_retryable_connect_error(production):
    def broken(host, port):
        raise OSError("no such host")
    # An OSError: aiohttp turns it into a connection error, which is retried.
    with pytest.raises(OSError, match="cannot resolve nowhere.test"):
        checked_addresses("nowhere.test", 80, broken)


def get(url: str, resolver) -> int:
    """GET ``url`` through a session whose connector uses the guarded resolver."""
    async def run() -> int:
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(resolver), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
                return response.status
    return asyncio.run(run())


def test_rebinding_resolves_once_and_connects_to_the_checked_address(production, monkeypatch):
    """The first answer is public, every later one loopback: a check-then-connect guard that
    resolves twice would end up on 127.0.0.1. We resolve once and dial that very address."""
    answers = iter(["93.184.216.34"])
    lookups: list[str] = []

    def rebinding(host: str, port: int) -> list[str]:
        lookups.append(host)
        return [next(answers, "127.0.0.1")]

    dialed: list[str] = []

    async def fake_start_connection(addr_infos, **kwargs):
        dialed.extend(info[4][0] for info in addr_infos)
        raise OSError("no network in tests")

    monkeypatch.setattr(aiohttp.connector.aiohappyeyeballs, "start_connection",
                        fake_start_connection)
    with pytest.raises(aiohttp.ClientConnectorError):
        get("http://rebind.test:8080/", rebinding)
    assert lookups == ["rebind.test"]
    assert dialed == ["93.184.216.34"]
    # A second connection sees the rebound answer, and is refused before any dial.
    with pytest.raises(DestinationRefused):
        get("http://rebind.test:8080/", rebinding)
    assert dialed == ["93.184.216.34"]


def test_connects_to_the_resolved_address_not_the_name(production, sink):
    """A made-up name reaches the sink only because we dial the address we checked."""
    production.QSTASH = {**production.QSTASH, "ALLOWED_DESTINATIONS": ["127.0.0.0/8"]}
    port = sink.server.server_address[1]
    assert get(f"http://made-up.invalid:{port}/named", fixed("127.0.0.1")) == 200
    [arrival] = sink.received("/named")
    assert arrival.headers["Host"] == f"made-up.invalid:{port}"


@pytest.mark.parametrize("host", ["localhost", "127.1", "[::1]", "0.0.0.0", "169.254.169.254",
                                  "[::ffff:127.0.0.1]", "0x7f.1", "2130706433"])
def test_deliver_refuses_without_retry(production, host):
    request = DeliveryRequest(url=f"http://{host}:9/x", method="POST", headers={}, body=b"",
                              timeout_seconds=2, message_id="msg_1", retried=0)

    async def run():
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            return await deliver(request, session=session, sign=lambda url, body: "sig",
                                 max_body=100)
    outcome = asyncio.run(run())
    assert outcome.status is None and outcome.non_retryable, outcome
    assert outcome.error.startswith("refused: destination") and "non-public" in outcome.error


@pytest.mark.parametrize("url, fragment", [
    ("http://", "no host"), ("http:///x", "no host"), ("https://:80/", "no host"),
    ("http://x:99999/", "port"), ("ftp://x/", "http(s)"),
])
def test_invalid_urls(url, fragment):
    with pytest.raises(BadRequest, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        parse_destination(url)
