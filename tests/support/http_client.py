"""httpx's request functions on one client for the whole test session.

``httpx.get`` and friends build a client per call, and with it a TLS context that loads the
CA bundle: more CPU than the loopback request itself, thousands of times per run. This client
keeps no connections between requests (a server a test stopped never gets a stale one) and
no cookies (each request stands alone, as with the functions it replaces)."""

from __future__ import annotations

from http.cookiejar import CookieJar, DefaultCookiePolicy

import httpx

_client = httpx.Client(limits=httpx.Limits(max_keepalive_connections=0),
                       cookies=CookieJar(policy=DefaultCookiePolicy(allowed_domains=[])))


def request(method: str, url: str, **kwargs) -> httpx.Response:
    return _client.request(method, url, **kwargs)


def get(url: str, **kwargs) -> httpx.Response:
    return request("GET", url, **kwargs)


def post(url: str, **kwargs) -> httpx.Response:
    return request("POST", url, **kwargs)


def put(url: str, **kwargs) -> httpx.Response:
    return request("PUT", url, **kwargs)


def delete(url: str, **kwargs) -> httpx.Response:
    return request("DELETE", url, **kwargs)
