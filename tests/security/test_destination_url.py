"""The one destination parser: what it stores, what it refuses, and that aiohttp agrees with it."""

from __future__ import annotations

import asyncio
from types import SimpleNamespace

import aiohttp
import pytest
from hypothesis import given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from yarl import URL

from django_qstash.core.attempts import DeliveryRequest
from django_qstash.core.destination_policy import GuardedResolver
from django_qstash.core.destination_url import dialled_url, parse_destination
from django_qstash.delivery.attempt import deliver
from django_qstash.exceptions import BadRequest, DestinationRefused

NORMALISED = [
    ("http://127\u30020\u30020\u30021:8080/x", "http://127.0.0.1:8080/x"),
    ("http://127\uff0e0\uff0e0\uff0e1/x", "http://127.0.0.1/x"),
    ("http://127\uff610\uff610\uff611/x", "http://127.0.0.1/x"),
    ("http://\uff11\uff12\uff17.0.0.1/x", "http://127.0.0.1/x"),
    ("http://2130706433:81/x", "http://127.0.0.1:81/x"),
    ("http://0177.0.0.1/x", "http://127.0.0.1/x"),
    ("http://0x7f.1/x", "http://127.0.0.1/x"),
    ("http://127.1/x", "http://127.0.0.1/x"),
    ("http://127.0.0.1./x", "http://127.0.0.1/x"),
    ("http://0/x", "http://0.0.0.0/x"),
    ("http://[0:0:0:0:0:0:0:1]:9/x", "http://[::1]:9/x"),
    ("http://[::ffff:127.0.0.1]/x", "http://[::ffff:7f00:1]/x"),
    ("http://B\u00fccher.example/x", "http://xn--bcher-kva.example/x"),
    ("HTTP://Example.COM/x", None),  # not a URL to the API: a (bad) URL-group name
    ("https://example.com:443/a b?q=1", "https://example.com/a%20b?q=1"),
    ("http://example.com/a/../b", "http://example.com/b"),
    ("http://localhost./x", "http://localhost./x"),
    ("http://a?@b/", "http://a/?@b/"),  # the host is a; "@b/" is the query
]

REFUSED = [
    ("http://127.0.0.1:8080#@localhost/", "fragment"),
    ("http://example.com/#", "fragment"),
    ("http://user@example.com/", "user name or password"),
    ("http://user:pw@example.com/", "user name or password"),
    ("http://:@example.com/", "user name or password"),
    ("http://127.0.0.1\\@localhost/", "not a valid URL"),
    ("http://[fe80::1%25eth0]/", "invalid host"),
    ("http://a b/", "invalid host"),
    ("http://ex%61mple.com/", "invalid host"),
    ("http://*.example.com/", "invalid host"),
    ("http://\u2488.com/", "invalid host"),  # "⒈" becomes "1." : an empty label
    ("http://1.2.3.4.5/", "invalid IPv4"),
    ("http://[]@", "not a valid URL"),  # yarl 1.25 raises IndexError on an empty IP literal
    ("http://example.1/", "invalid IPv4"),
    ("http://x:0/", "invalid port"),
    ("http://x:99999/", "port"),
    ("https://:443/x", "no host"),
    ("ftp://x/", "http(s)"),
]


@pytest.mark.parametrize("given_url, stored", [c for c in NORMALISED if c[1]])
def test_stored_as_dialled(given_url, stored):
    assert parse_destination(given_url) == stored
    assert parse_destination(stored) == stored  # stored URLs parse to themselves


@pytest.mark.parametrize("given_url, reason", REFUSED)
def test_refused_at_the_door(given_url, reason):
    with pytest.raises(BadRequest, match=reason.replace("(", r"\(").replace(")", r"\)")) as exc:
        parse_destination(given_url, "Upstash-Callback")
    assert exc.value.message.startswith("Upstash-Callback ")
    assert exc.value.status == 400


@pytest.fixture
def production(settings):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": False,
                       "ALLOWED_DESTINATIONS": []}
    return settings


@pytest.mark.parametrize("stored", [
    "http://127.0.0.1:8080#@localhost/", "http://127\u30020\u30020\u30021/",
    "http://user@127.0.0.1/", "http://2130706433/", "http://[::ffff:7f00:1]/",
    "http://localhost./", "http://a.localhost/", "http://0/",
])
def test_rows_stored_before_are_refused_when_sent(production, stored):
    with pytest.raises(DestinationRefused):
        dialled_url(stored)


def test_an_allowed_host_is_dialled_as_parsed(production):
    production.QSTASH = {**production.QSTASH, "ALLOWED_DESTINATIONS": ["127.0.0.0/8"]}
    assert dialled_url("http://0x7f.1:81/x") == URL("http://127.0.0.1:81/x")
    with pytest.raises(DestinationRefused, match="169.254.169.254"):
        dialled_url("http://0xa9fea9fe/latest/meta-data/")


def test_deliver_refuses_a_stored_fragment_trick_without_retry(production):
    request = DeliveryRequest(url="http://127.0.0.1:9#@example.com/", method="POST",
                              headers={}, body=b"", timeout_seconds=2, message_id="msg_1",
                              retried=0)

    async def run():
        connector = aiohttp.TCPConnector(resolver=GuardedResolver(), use_dns_cache=False)
        async with aiohttp.ClientSession(connector=connector) as session:
            return await deliver(request, session=session, sign=lambda url, body: "sig",
                                 max_body=100)
    outcome = asyncio.run(run())
    assert outcome.non_retryable and outcome.error.startswith("refused: destination"), outcome


HOST_CHARS = st.sampled_from(list("ab1.-_:[]@#?/\\%") + ["\u3002", "\uff0e", "\uff61", "\uff11",
                                                          "\u00fc", "0x", "\u200b", " "])


@hypothesis_settings(max_examples=400, deadline=None)
@given(authority=st.lists(HOST_CHARS, min_size=1, max_size=14).map("".join),
       path=st.sampled_from(["", "/", "/p", "/p?q=1", "?a@b", "#f"]))
def test_what_is_stored_is_what_aiohttp_dials(authority, path):
    """Whatever is accepted, aiohttp parses the stored text to the same URL, and the host
    the policy judges is the host aiohttp connects to."""
    try:
        stored = parse_destination(f"http://{authority}{path}")
    except BadRequest:
        return
    # How a session turns a URL string into the URL it requests (no base URL set).
    by_aiohttp = aiohttp.ClientSession._build_url(SimpleNamespace(_base_url=None), stored)
    checked = dialled_url(stored)  # dev settings: no policy refusal, only the parse
    assert checked == by_aiohttp and checked.raw_host == by_aiohttp.raw_host
    assert str(by_aiohttp) == stored
    assert by_aiohttp.raw_host and by_aiohttp.raw_host.isascii()
    assert "#" not in stored and by_aiohttp.raw_user is None and by_aiohttp.raw_password is None


def test_an_international_host_published_in_the_path_is_idna_encoded(qstash, sink):
    """The SDKs put the destination in the request path, percent-encoded as UTF-8."""
    from tests.e2e.helpers import api

    response = api(qstash, "POST", "/v2/publish/http://b\u00fccher.example/x", content=b"x",
                   headers={"Upstash-Delay": "1d"})
    assert response.status_code == 200, response.text
    assert response.json()["url"] == "http://xn--bcher-kva.example/x"
    dotted = api(qstash, "POST", "/v2/publish/http://127\u30020\u30020\u30021:9/y",
                 content=b"x", headers={"Upstash-Delay": "1d"})
    assert dotted.json()["url"] == "http://127.0.0.1:9/y"


@pytest.mark.parametrize("trick", ["%23@localhost", "%5C@localhost", "%3F@localhost"])
def test_percent_encoded_authority_tricks_in_the_path_are_400(qstash, trick):
    """A client that escapes '#', '\\' or '?' gets them to the server inside the path."""
    from tests.e2e.helpers import api

    response = api(qstash, "POST", f"/v2/publish/http://127.0.0.1:9{trick}/x", content=b"x")
    assert response.status_code == 400, response.text
    assert response.json()["error"].startswith("destination ")
