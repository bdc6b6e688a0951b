"""Header-name helpers shared by parsing and serialisation: Go-style canonical keys, filters."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from django_qstash.exceptions import InvalidHeader

# Hop-by-hop and framing headers describe one connection, not the message: never forwarded,
# in any form. A forwarded Transfer-Encoding beside the real Content-Length would let a body
# smuggle a second request onto a keep-alive connection that other tenants' deliveries reuse.
# Proxy-* (matched by prefix below) belongs here too.
# What QStash sends as User-Agent with every delivery.
USER_AGENT = "Upstash-QStash"

NEVER_FORWARDED = frozenset({
    "host", "content-length", "transfer-encoding", "connection", "keep-alive", "te", "trailer",
    "upgrade", "expect",
})
# Set by the server on every delivery (some only when they apply): a forwarded copy is
# replaced, never sent beside the server's own, so a receiver cannot pick a stale one.
SERVER_HEADERS = frozenset({
    "user-agent", "upstash-signature", "upstash-message-id", "upstash-retried",
    "upstash-topic-name", "upstash-schedule-id", "upstash-caller-ip",
})
# Not passed on by Upstash-Header-Forward either: the publish request's own credentials and
# the proxies it came through.
HOP_HEADERS = NEVER_FORWARDED | SERVER_HEADERS | frozenset({
    "proxy-authorization", "proxy-connection", "authorization", "accept-encoding", "cookie",
    "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip",
})
# Sent once at most: a second Content-Type leaves each receiver to pick its own, and a
# second Accept-Encoding beside the one the HTTP client decodes by. The last value given wins
# (a request's own header comes after its URL group's default).
SINGLE_VALUED = frozenset({"Content-Type", "Accept-Encoding"})
_SINGLE_VALUED_LOWER = frozenset(name.lower() for name in SINGLE_VALUED)
# RFC 9110 field names are tokens; values may not hold control characters other than HTAB
# (the set aiohttp and Go's net/http refuse to send).
_TOKEN = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]+")
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f]")


def canonical(name: str) -> str:
    """``content-type`` -> ``Content-Type``, as Go's CanonicalMIMEHeaderKey (which QStash uses)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def is_forwardable(name: str) -> bool:
    """False for hop-by-hop, framing and server-set headers (any case)."""
    lower = name.lower()
    return not (lower in NEVER_FORWARDED or lower in SERVER_HEADERS or lower.startswith("proxy-"))


def check_header(name: str, value: str) -> None:
    """Raise InvalidHeader for a name or value no HTTP request may carry (CR, LF, NUL, …)."""
    if name and not _TOKEN.fullmatch(name):  # an empty name is never forwarded
        raise InvalidHeader(f"header name {name[:80]!r} is not a valid header name")
    if _CONTROL.search(value):
        raise InvalidHeader(f"header {canonical(name)}: its value contains a control character "
                            "(CR, LF, NUL, …), which HTTP headers may not carry")


def check_headers(pairs: Iterable[tuple[str, str]]) -> None:
    pairs = list(pairs)
    # Every publish and every delivery passes here: one scan of all names and one of all
    # values; the pass header by header only runs to name the culprit.
    names = "".join(name for name, _ in pairs)
    if (names and not _TOKEN.fullmatch(names)) or _CONTROL.search(
            "".join(value for _, value in pairs)):
        for name, value in pairs:
            check_header(name, value)


def forward_map(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """The header map a destination receives for these pairs: canonical names, checked, and
    without hop-by-hop, framing or server-set headers. Empty names are skipped."""
    pairs = [(name, value) for name, value in pairs if name]
    check_headers(pairs)
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        if is_forwardable(name):
            key = canonical(name)
            if key in SINGLE_VALUED:
                result[key] = [value]
            else:
                result.setdefault(key, []).append(value)
    return result


def forwardable_map(headers: Mapping[str, list[str]]) -> dict[str, list[str]]:
    """``forward_map`` of a header map (stored rows, maps handed over by code)."""
    return forward_map((name, value) for name, values in headers.items() for value in values)


def sendable_pairs(headers: Mapping[str, list[str]]) -> list[tuple[str, str]]:
    """The stored headers a delivery may send: the same rule, applied again at send time for
    rows written before it existed. Stored names are canonical already."""
    pairs = [(name, value) for name, values in headers.items()
             if name and is_forwardable(name) for value in values]
    check_headers(pairs)
    return last_of_single_valued(pairs)


def last_of_single_valued(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """``pairs`` with only the last of each single-valued header, in any case of its name
    (older rows may hold ``content-type`` beside ``Content-Type``)."""
    seen: set[str] = set()
    kept = []
    for name, value in reversed(pairs):
        key = name.lower()
        if key in _SINGLE_VALUED_LOWER:
            if key in seen:
                continue
            seen.add(key)
        kept.append((name, value))
    kept.reverse()
    return kept


def first_values(headers: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in headers.items() if values}
