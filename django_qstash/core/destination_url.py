"""One parser for every destination URL: yarl, as aiohttp dials it, normalised once."""

from __future__ import annotations

import ipaddress
import re
import socket
from functools import lru_cache

from yarl import URL

from django_qstash.core.destination_policy import verify_host
from django_qstash.exceptions import BadRequest, DestinationRefused

# What a host may be once yarl has IDNA-encoded it: ASCII labels, or an IP literal.
NAME_LABEL = re.compile(r"[a-z0-9_-]{1,63}", re.IGNORECASE)
# WHATWG's "ends in a number": such a host is an IPv4 address in one of its legacy spellings.
NUMERIC_LABEL = re.compile(r"(0x[0-9a-f]*|[0-9]+)", re.IGNORECASE)
MAX_NAME_LENGTH = 253
CACHE_SIZE = 4096


class InvalidDestination(ValueError):
    """The text says what is wrong, to follow the destination's label."""


def parse_destination(url: str, label: str = "destination") -> str:
    """The URL to store for ``url``: exactly what aiohttp will dial, or a 400.

    Every path that takes a destination (publish, batch, URL-group endpoints, callbacks,
    schedules, the client) calls this, so the policy later judges the host that is dialled.
    """
    try:
        return str(_parse(url))
    except InvalidDestination as exc:
        raise BadRequest(f"{label} {exc}") from None


def dialled_url(url: str) -> URL:
    """At send time: the stored URL parsed again (rows written by older versions were not
    normalised) and its host checked against the policy; refusals are not retried."""
    try:
        parsed = _parse(url)
    except InvalidDestination as exc:
        raise DestinationRefused(f"destination {exc}") from None
    verify_host(parsed.raw_host or "")
    return parsed


def parsed_destination(url: str) -> URL:
    """The parsed URL (cached), or InvalidDestination: for code keyed by the dialled host."""
    return _parse(url)


@lru_cache(maxsize=CACHE_SIZE)  # the same few destinations come again and again
def _parse(url: str) -> URL:
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise InvalidDestination("must be an http(s) URL")
    shown = repr(url[:200])
    # A literal '#' always starts the fragment, whichever parser reads it; a fragment is
    # never sent, so one in a destination is only ever a way to hide the real authority.
    if "#" in url:
        raise InvalidDestination(f"{shown} must not have a fragment ('#')")
    try:
        parsed = URL(url)
    except Exception as exc:  # noqa: BLE001
        # The parser's own crash on a malformed URL (yarl 1.25 raises IndexError on
        # "http://[]@") is still a malformed URL: a 400, never a 500.
        if not isinstance(exc, (ValueError, UnicodeError)):
            raise InvalidDestination(f"{shown} is not a valid URL") from None
        reason = str(exc).lower()
        if "port" in reason:
            raise InvalidDestination(f"{shown} has an invalid port: {exc}") from None
        if "host is required" in reason:
            raise InvalidDestination(f"{shown} has no host") from None
        raise InvalidDestination(f"is not a valid URL: {exc}") from None
    if parsed.raw_user is not None or parsed.raw_password is not None:
        raise InvalidDestination(f"{shown} must not carry a user name or password ('@')")
    if not parsed.raw_host:
        raise InvalidDestination(f"{shown} has no host")
    if parsed.explicit_port == 0:
        raise InvalidDestination(f"{shown} has an invalid port")
    host = _normal_host(parsed.raw_host, shown)
    return parsed if host == parsed.raw_host else parsed.with_host(host)


def _normal_host(host: str, shown: str) -> str:
    """The host as dialled: IP literals in their one canonical spelling, names as is."""
    if ":" in host:  # yarl hands IPv6 literals over without their brackets
        if "%" in host:  # a zone id picks an interface: not a destination
            raise InvalidDestination(f"{shown} has an invalid host")
        try:
            return str(ipaddress.IPv6Address(host))
        except ValueError:
            raise InvalidDestination(f"{shown} has an invalid host") from None
    labels = host.split(".")
    if labels[-1] == "" and len(labels) > 1:
        labels.pop()  # one trailing dot: a fully qualified name
    if len(host) > MAX_NAME_LENGTH or not all(NAME_LABEL.fullmatch(part) for part in labels):
        raise InvalidDestination(f"{shown} has an invalid host")
    if NUMERIC_LABEL.fullmatch(labels[-1]):
        # "2130706433", "0x7f.1", "0177.0.0.1", "127.1", "127.0.0.1." are all 127.0.0.1 to the
        # system resolver; stored as that address, the policy sees the literal it dials.
        try:
            return socket.inet_ntoa(socket.inet_aton(".".join(labels)))
        except OSError:
            raise InvalidDestination(f"{shown} has an invalid IPv4 address") from None
    return host
