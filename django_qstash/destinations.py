"""Destination policy: refuse private, loopback and link-local targets unless allowed."""

from __future__ import annotations

import ipaddress
import socket

import httpx

from .conf import qstash_settings
from .exceptions import DestinationRefused


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return not (ip.is_private or ip.is_loopback or ip.is_link_local or ip.is_multicast
                or ip.is_unspecified or ip.is_reserved)


def check_host(host: str, port: int) -> None:
    if qstash_settings.ALLOW_PRIVATE_DESTINATIONS:
        return
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise DestinationRefused(f"cannot resolve {host}: {exc}") from None
    for info in infos:
        address = info[4][0]
        if not is_public(address):
            raise DestinationRefused(f"destination {host} resolves to non-public address {address}")


def verify_request_destination(request: httpx.Request) -> None:
    """httpx request hook: runs before every request, including ones to redirect targets."""
    url = request.url
    check_host(url.host, url.port or (443 if url.scheme == "https" else 80))
