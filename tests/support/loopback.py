"""A guard for tests that send generated input: no socket leaves the loopback interface."""

from __future__ import annotations

import contextlib
import ipaddress
import socket
from collections.abc import Iterator


def is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return host.lower().rstrip(".") == "localhost"


@contextlib.contextmanager
def loopback_only() -> Iterator[list[tuple[str, object]]]:
    """Within the block, resolving any name but a loopback one and connecting anywhere but
    loopback fail at once, before any packet is sent; yields the list of what was refused."""
    refused: list[tuple[str, object]] = []
    real_getaddrinfo = socket.getaddrinfo
    real_connect, real_connect_ex = socket.socket.connect, socket.socket.connect_ex

    def getaddrinfo(host, *args, **kwargs):
        name = host.decode() if isinstance(host, bytes) else host
        if name is not None and not is_loopback(str(name)):
            refused.append(("resolve", name))
            raise socket.gaierror(socket.EAI_NONAME, f"{name}: tests resolve loopback names only")
        return real_getaddrinfo(host, *args, **kwargs)

    def check(sock, address) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not is_loopback(str(address[0])):
            refused.append(("connect", address))
            raise ConnectionRefusedError(f"{address}: tests connect to loopback only")

    def connect(self, address):
        check(self, address)
        return real_connect(self, address)

    def connect_ex(self, address):
        check(self, address)
        return real_connect_ex(self, address)

    socket.getaddrinfo = getaddrinfo
    socket.socket.connect, socket.socket.connect_ex = connect, connect_ex
    try:
        yield refused
    finally:
        socket.getaddrinfo = real_getaddrinfo
        socket.socket.connect, socket.socket.connect_ex = real_connect, real_connect_ex
