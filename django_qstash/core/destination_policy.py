"""Destination policy: refuse private, loopback and link-local targets unless allowed."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Callable
from functools import lru_cache

from aiohttp.abc import AbstractResolver

from django_qstash.conf import qstash_settings
from django_qstash.exceptions import DestinationRefused

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
Network = ipaddress.IPv4Network | ipaddress.IPv6Network
Resolver = Callable[[str, int], list[str]]
# NAT64 (RFC 6052) carries an IPv4 address in its last 32 bits.
NAT64 = ipaddress.ip_network("64:ff9b::/96")


def is_public(address: str | IPAddress) -> bool:
    """True for globally routable unicast addresses, IPv4 forms embedded in IPv6 included."""
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    # Translation prefixes are judged by the IPv4 address they carry.
    embedded: list[IPAddress] = [ip]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped:
            embedded = [ip.ipv4_mapped]
        elif ip in NAT64:
            embedded = [ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)]
        elif ip.teredo:
            embedded = list(ip.teredo)
        elif ip.sixtofour:
            embedded.append(ip.sixtofour)
    # is_global alone lets multicast through; reserved covers 240/4 and IPv4-compatible ::a.b.c.d.
    return all(a.is_global and not (a.is_multicast or a.is_reserved) for a in embedded)


AllowList = tuple[frozenset[str], tuple[str, ...], tuple[Network, ...]]


@lru_cache(maxsize=16)
def _allow_list(entries: tuple[str, ...]) -> AllowList:
    """ALLOWED_DESTINATIONS parsed: exact hosts, "*." suffixes and networks."""
    hosts, suffixes, networks = set(), [], []
    for entry in entries:
        entry = entry.strip().lower().rstrip(".")
        try:
            networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            continue
        except ValueError:
            pass
        if entry.startswith("*."):
            suffixes.append(entry[1:])  # "*.svc.local" allows "a.svc.local", not "svc.local"
        elif entry:
            hosts.add(entry)
    return frozenset(hosts), tuple(suffixes), tuple(networks)


def allowed_host(host: str) -> bool:
    """Hosts named in ALLOWED_DESTINATIONS may resolve anywhere."""
    hosts, suffixes, _ = _allow_list(tuple(qstash_settings.ALLOWED_DESTINATIONS or ()))
    host = host.lower().rstrip(".")
    return host in hosts or host.endswith(suffixes)


def allowed_address(address: str) -> bool:
    if qstash_settings.ALLOW_PRIVATE_DESTINATIONS or _public_text(address):
        return True
    ip = ipaddress.ip_address(address)
    _, _, networks = _allow_list(tuple(qstash_settings.ALLOWED_DESTINATIONS or ()))
    return any(ip.version == net.version and ip in net for net in networks)


def system_resolver(host: str, port: int) -> list[str]:
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, proto=socket.IPPROTO_TCP)
    return list(dict.fromkeys(info[4][0] for info in infos))


def checked_addresses(host: str, port: int, resolver: Resolver = system_resolver) -> list[str]:
    """Resolve ``host`` once; every address must pass, or the destination is refused."""
    try:
        addresses = resolver(host, port)
    except (OSError, UnicodeError, OverflowError) as exc:
        # Not a policy decision: DNS failures are usually transient, so they stay retryable.
        raise OSError(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise OSError(f"cannot resolve {host}: no addresses")
    if allowed_host(host):
        return addresses
    for address in addresses:
        if not allowed_address(address):
            # Refuse on any bad answer: a mixed answer is the usual shape of a rebinding attack.
            raise _refused(host, address)
    return addresses


def _refused(host: str, address: str) -> DestinationRefused:
    shown = host if host == address else f"{host} (resolves to {address})"
    return DestinationRefused(
        f"destination {shown} is a private, loopback, link-local or otherwise non-public "
        f"address; allow it with QSTASH['ALLOWED_DESTINATIONS']")


class GuardedResolver(AbstractResolver):
    """aiohttp resolver that applies the destination policy: the connector dials exactly the
    addresses checked here, so a DNS answer that changes between check and connect
    (rebinding) cannot slip through. TLS still verifies the certificate against the URL's
    host name."""

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver

    async def resolve(self, host: str, port: int = 0,
                      family: socket.AddressFamily = socket.AF_INET) -> list[dict]:
        loop = asyncio.get_running_loop()
        addresses = await loop.run_in_executor(None, checked_addresses, host, port,
                                               self.resolver)
        return [{"hostname": host, "host": address, "port": port,
                 "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                 "proto": 0, "flags": socket.AI_NUMERICHOST | socket.AI_NUMERICSERV}
                for address in addresses]

    async def close(self) -> None:
        return None


# Checked before every request; the answers depend on the text alone, not on any setting,
# and parsing an address cost as much as a tenth of a send.
@lru_cache(maxsize=4096)
def _public_text(address: str) -> bool:
    return is_public(address)


@lru_cache(maxsize=4096)
def literal_address(host: str) -> str | None:
    """The address a host written as an IP literal means, legacy IPv4 forms included
    ("127.1", "0x7f.1", "2130706433" all mean 127.0.0.1); None for a name."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except (OSError, UnicodeError, ValueError):
        return None


def verify_host(host: str) -> None:
    """Before every request: refuses literal non-public addresses, which never reach the
    resolver (and may use a pooled connection), and localhost names. Other names are
    checked by GuardedResolver, on the addresses they resolve to."""
    if not host:
        raise DestinationRefused("destination has no host")
    if allowed_host(host):
        return
    address = literal_address(host)
    if address is not None and not allowed_address(address):
        raise _refused(host, address)
    if address is None and is_localhost_name(host) and not allowed_address("127.0.0.1"):
        # RFC 6761: these names mean loopback whatever DNS answers ("localhost." is not in
        # /etc/hosts and would be asked of the network's resolver), so refuse without asking.
        raise _refused(host, host)


def is_localhost_name(host: str) -> bool:
    name = host.lower().rstrip(".")
    return name == "localhost" or name.endswith(".localhost")
