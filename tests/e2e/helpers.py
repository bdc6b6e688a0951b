"""Helpers for end-to-end tests: HTTP calls to a live API (anything with .url and .auth)."""

from __future__ import annotations

import time

import httpx

from tests.support import http_client


def api(qstash, method: str, path: str, **kwargs) -> httpx.Response:
    headers = {**qstash.auth, **kwargs.pop("headers", {})}
    return http_client.request(method, qstash.url + path, headers=headers, timeout=30, **kwargs)


def publish(qstash, destination: str, body: bytes | str = b"", **headers) -> str:
    response = api(qstash, "POST", f"/v2/publish/{destination}", content=body,
                   headers={k.replace("_", "-"): v for k, v in headers.items()})
    assert response.status_code in (200, 202), response.text
    return response.json()["messageId"]


def events(qstash, message_id: str) -> list[str]:
    response = api(qstash, "GET", "/v2/events", params={"messageId": message_id})
    assert response.status_code == 200, response.text
    return [e["state"] for e in reversed(response.json()["events"])]


def wait_for_state(qstash, message_id: str, state: str, timeout: float = 30) -> list[str]:
    deadline = time.monotonic() + timeout
    seen: list[str] = []
    while time.monotonic() < deadline:
        seen = events(qstash, message_id)
        if state in seen:
            return seen
        time.sleep(0.05)
    raise AssertionError(f"{message_id} never reached {state}; events: {seen}")
