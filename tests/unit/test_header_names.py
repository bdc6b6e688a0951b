"""The forwarding rule, table by table: what is dropped, what is refused, in any letter case."""

from __future__ import annotations

import pytest

from django_qstash.core.header_names import (
    NEVER_FORWARDED,
    SERVER_HEADERS,
    check_headers,
    forward_map,
    is_forwardable,
    sendable_pairs,
)
from django_qstash.exceptions import InvalidHeader

DROPPED = sorted(NEVER_FORWARDED | SERVER_HEADERS) + ["proxy-authorization", "Proxy-Whatever"]


@pytest.mark.parametrize("name", DROPPED)
@pytest.mark.parametrize("spelling", [str.lower, str.upper, str.title])
def test_hop_framing_and_server_headers_are_dropped_in_any_case(name, spelling):
    pairs = [(spelling(name), "v"), ("X-Kept", "k")]
    assert not is_forwardable(spelling(name))
    assert forward_map(pairs) == {"X-Kept": ["k"]}
    assert sendable_pairs({spelling(name): ["v"], "X-Kept": ["k"]}) == [("X-Kept", "k")]


@pytest.mark.parametrize("name", ["Content-Type", "Authorization", "Accept", "X-Upstash-Like",
                                  "Upstash-Region", "Hostname", "Te-Not", "Content-Length-X"])
def test_end_to_end_headers_are_kept(name):
    assert is_forwardable(name) and forward_map([(name, "v")]) == {name: ["v"]}


@pytest.mark.parametrize("name, value", [
    ("X-A", "a\r\nb"), ("X-A", "a\nb"), ("X-A", "a\rb"), ("X-A", "\x00"), ("X-A", "\x1f"),
    ("X-A", "\x7f"), ("X A", "v"), ("X:A", "v"), ("X\nA", "v"), ("X-É", "v"), ("(X)", "v"),
])
def test_what_http_cannot_carry_is_refused_everywhere(name, value):
    for check in (lambda: check_headers([("X-Fine", "ok"), (name, value)]),
                  lambda: forward_map([(name, value)]),
                  lambda: sendable_pairs({name: [value]})):
        with pytest.raises(InvalidHeader) as refused:
            check()
        assert refused.value.status == 400


def test_tabs_non_ascii_values_and_empty_names_are_fine():
    check_headers([("X-A", "a\tb"), ("X-B", "café"), ("", "ignored")])
    assert forward_map([("", "v"), ("x-b", "café")]) == {"X-B": ["café"]}
