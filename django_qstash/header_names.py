"""Header-name helpers shared by parsing and serialisation: Go-style canonical keys, filters."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

# Never forwarded, even with Upstash-Header-Forward: they describe this hop, not the message.
HOP_HEADERS = frozenset({
    "host", "content-length", "connection", "keep-alive", "transfer-encoding", "te", "trailer",
    "upgrade", "proxy-authorization", "proxy-connection", "authorization", "accept-encoding",
    "expect", "cookie", "x-forwarded-for", "x-forwarded-proto", "x-forwarded-host", "x-real-ip",
})


def canonical(name: str) -> str:
    """``content-type`` -> ``Content-Type``, as Go's CanonicalMIMEHeaderKey (which QStash uses)."""
    return "-".join(part[:1].upper() + part[1:].lower() for part in name.split("-"))


def header_map(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    result: dict[str, list[str]] = {}
    for name, value in pairs:
        result.setdefault(canonical(name), []).append(value)
    return result


def first_values(headers: Mapping[str, list[str]]) -> dict[str, str]:
    return {name: values[0] for name, values in headers.items() if values}
