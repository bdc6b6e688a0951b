"""A guard that fails a test whose process connects to, or looks up, anything beyond loopback."""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

# Names the machine answers from /etc/hosts: looking them up sends nothing anywhere.
LOCAL_NAMES = frozenset({"localhost"})
INET_FAMILIES = (socket.AF_INET, socket.AF_INET6)

_lock = threading.Lock()
_guards: list[list[str]] = []  # the violations of each active guard
_installed = False


class EgressBlocked(PermissionError):
    """An OSError, so the client fails the way a firewall would make it fail."""


def is_loopback(address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return (mapped or ip).is_loopback


def is_local_lookup(host: object) -> bool:
    """A lookup the resolver answers without the network: no name, loopback names, and
    numeric hosts (legacy IPv4 spellings included, which getaddrinfo parses itself)."""
    if host is None or host in (b"", ""):
        return True
    name = host.decode("ascii", "replace") if isinstance(host, bytes) else str(host)
    if name.lower() in LOCAL_NAMES:
        return True
    try:
        ipaddress.ip_address(name.split("%", 1)[0])
        return True
    except ValueError:
        pass
    try:
        socket.inet_aton(name)
        return True
    except (OSError, UnicodeError, ValueError):
        return False


def _audit(event: str, args: tuple) -> None:
    if not _guards:
        return
    if event == "socket.connect":
        sock, address = args
        if sock.family in INET_FAMILIES and not is_loopback(str(address[0])):
            _block(f"connect to {address[0]} port {address[1]}")
    elif event == "socket.getaddrinfo":
        if not is_local_lookup(args[0]):
            _block(f"lookup of {args[0]!r}")
    elif event in ("socket.gethostbyname", "socket.gethostbyname_ex"):
        if not is_local_lookup(args[0]):
            _block(f"lookup of {args[0]!r}")


def _block(what: str) -> None:
    # Raised before the system call: the packet is never sent. Recorded, because the client
    # that sees the error may swallow it (a failed delivery attempt is a normal outcome).
    with _lock:
        for violations in _guards:
            violations.append(what)
    raise EgressBlocked(f"blocked by the loopback-only guard: {what}")


@contextmanager
def loopback_only() -> Iterator[list[str]]:
    """While active, every process-wide connect or lookup beyond loopback is refused and
    listed in the yielded list (audit hooks see every thread, the sender loop's included)."""
    global _installed
    with _lock:
        if not _installed:
            sys.addaudithook(_audit)  # hooks cannot be removed: inert when no guard is active
            _installed = True
        violations: list[str] = []
        _guards.append(violations)
    try:
        yield violations
    finally:
        with _lock:  # by identity: two guards' empty lists are equal
            del _guards[next(i for i, g in enumerate(_guards) if g is violations)]
