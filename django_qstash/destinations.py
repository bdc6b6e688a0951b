"""Destination policy: refuse private, loopback and link-local targets unless allowed."""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable, Iterable
from functools import lru_cache

import httpcore
import httpx

from .conf import qstash_settings
from .exceptions import BadRequest, DestinationRefused

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
    ip = ipaddress.ip_address(address)
    if qstash_settings.ALLOW_PRIVATE_DESTINATIONS or is_public(ip):
        return True
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
        raise httpcore.ConnectError(f"cannot resolve {host}: {exc}") from None
    if not addresses:
        raise httpcore.ConnectError(f"cannot resolve {host}: no addresses")
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


class GuardedBackend(httpcore.SyncBackend):
    """Checks the resolved address at connect time and connects to exactly that address, so a
    DNS answer that changes between check and connect (rebinding) cannot slip through. TLS
    still verifies the certificate against the URL's host name: httpcore passes it separately.
    """

    def __init__(self, resolver: Resolver = system_resolver) -> None:
        self.resolver = resolver

    def connect_tcp(self, host: str, port: int, timeout: float | None = None,
                    local_address: str | None = None,
                    socket_options: Iterable | None = None) -> httpcore.NetworkStream:
        error: Exception | None = None
        for address in checked_addresses(host, port, self.resolver):
            try:
                return super().connect_tcp(address, port, timeout, local_address, socket_options)
            except httpcore.ConnectError as exc:
                error = exc  # try the next address, as socket.create_connection would
        raise error or httpcore.ConnectError(f"cannot connect to {host}")


def guarded_transport(resolver: Resolver = system_resolver, **kwargs) -> httpx.HTTPTransport:
    transport = httpx.HTTPTransport(**kwargs)
    # httpx has no parameter for the network backend; the pool hands this one to every
    # connection it opens (redirect targets included, should redirects ever be followed).
    transport._pool._network_backend = GuardedBackend(resolver)
    return transport


def verify_request_destination(request: httpx.Request) -> None:
    """httpx request hook, before every request: refuses literal non-public IPs early, even on
    a pooled connection. Host names are checked at connect time by GuardedBackend."""
    host = request.url.host
    if not host:
        raise DestinationRefused("destination has no host")
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return
    if not allowed_host(host) and not allowed_address(host):
        raise _refused(host, host)


def validate_url(url: str, label: str = "destination") -> str:
    """Publish-time syntax check, so a URL no attempt could ever reach is a 400, not a DLQ entry."""
    if not url.startswith(("http://", "https://")):
        raise BadRequest(f"{label} must be an http(s) URL")
    try:
        parsed = httpx.URL(url)
    except (httpx.InvalidURL, ValueError) as exc:
        raise BadRequest(f"{label} is not a valid URL: {exc}") from None
    if not parsed.host:
        raise BadRequest(f"{label} {url[:200]!r} has no host")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise BadRequest(f"{label} {url[:200]!r} has an invalid port")
    return url
