"""Tokens: stored hashed, compared in constant time, revocable; read-only tokens only read."""

from __future__ import annotations

import hashlib

import pytest
from django.db import connection
from django.utils import timezone

from django_qstash.api import authentication
from django_qstash.core import api_tokens
from django_qstash.models import ApiToken, Event
from tests.security.endpoints import CALLS, covered, fill, routes_and_methods
from tests.security.test_isolation import snapshot
from tests.support import http_client

pytestmark = pytest.mark.django_db(transaction=True)
SAMPLE = dict(message="msg_none", dlq="1-0", queue="q", group="g", schedule="s", key="k",
              run="wfr_none", event="e_none", account="a_none")


def test_every_endpoint_has_a_read_only_case():
    assert routes_and_methods() <= covered(CALLS)


def test_only_a_digest_of_the_secret_is_stored(qstash):
    token = ApiToken.objects.get(tenant=qstash.tenant)
    assert token.token_hash == hashlib.sha256(qstash.token.encode()).hexdigest()
    assert len(token.prefix) == 8 and token.prefix == api_tokens.shown_prefix(qstash.token)
    with connection.cursor() as cursor:  # the secret appears in no column of the token table
        cursor.execute(f"SELECT * FROM {ApiToken._meta.db_table}")
        assert not any(qstash.token in str(cell) for row in cursor.fetchall() for cell in row)


def test_comparison_is_constant_time(qstash, monkeypatch):
    seen = []
    real = authentication.hmac.compare_digest

    def spy(a, b):
        seen.append((a, b))
        return real(a, b)

    monkeypatch.setattr(authentication.hmac, "compare_digest", spy)
    assert http_client.get(qstash.url + "/v2/keys", headers=qstash.auth).status_code == 200
    assert seen and all(len(a) == len(b) == 64 for a, b in seen)


@pytest.mark.parametrize("header", ["Bearer nope", "Bearer  x", "Basic abc", "bearer",
                                    "Bearer " + "x" * 10_000, "Bearer \u00e9\u00e9"])
def test_bad_tokens_are_401_with_a_reason(qstash, header):
    response = http_client.get(qstash.url + "/v2/queues", headers={"Authorization": header.encode(
        "utf-8")})
    assert response.status_code == 401 and response.json()["error"]
    assert response.headers["WWW-Authenticate"].startswith("Bearer")


def test_revoked_tokens_stop_working(qstash):
    assert http_client.get(qstash.url + "/v2/queues", headers=qstash.auth).status_code == 200
    assert ApiToken.objects.filter(tenant=qstash.tenant).revoke() == 1
    response = http_client.get(qstash.url + "/v2/queues", headers=qstash.auth)
    assert response.status_code == 401 and response.json()["error"] == "invalid token"
    by_query = http_client.get(qstash.url + "/v2/queues", params={"qstash_token": qstash.token})
    assert by_query.status_code == 401


def test_a_token_revoked_elsewhere_stops_working_within_the_cache_time(qstash, settings):
    from django_qstash.core import clock

    settings.QSTASH = {**settings.QSTASH, "TOKEN_CACHE_SECONDS": 5}
    previous, frozen = clock.get_clock(), clock.FrozenClock(clock.now())
    clock.set_clock(frozen)
    try:
        assert http_client.get(qstash.url + "/v2/queues", headers=qstash.auth).status_code == 200
        # Another process revokes: no signal reaches this one, the cached token still works...
        ApiToken.objects.filter(tenant=qstash.tenant).update(revoked_at=timezone.now())
        assert http_client.get(qstash.url + "/v2/queues", headers=qstash.auth).status_code == 200
        frozen.advance(seconds=5)  # ...until the cache time has passed
        assert http_client.get(qstash.url + "/v2/queues", headers=qstash.auth).status_code == 401
    finally:
        clock.set_clock(previous)


@pytest.fixture
def read_only(qstash):
    _, secret = ApiToken.issue(qstash.tenant, name="ro", read_only=True)
    return {"Authorization": f"Bearer {secret}"}


def test_read_only_token_on_every_endpoint(qstash, read_only):
    failures = []
    for call in CALLS:
        before = snapshot(qstash.tenant)
        response = http_client.request(call.method, qstash.url + fill(call.path, SAMPLE),
                                       json=fill(call.json, SAMPLE),
                                       headers={**read_only, **fill(call.headers, SAMPLE)},
                                       params=fill(call.params, SAMPLE), timeout=30)
        if call.path == "/v2/keys" and call.method == "GET":
            ok = response.status_code == 403 and "read-write" in response.json()["error"]
        elif call.path.startswith("/v2/workflows/hooks/"):
            ok = response.status_code == 404  # takes no token: the URL is the credential
        elif call.method == "GET":
            ok = response.status_code == 200 or (
                response.status_code == 404 and "not found" in response.json()["error"])
        else:
            ok = (response.status_code == 403
                  and response.json() == {"error": "this token is read-only"})
        if not ok or snapshot(qstash.tenant) != before:
            failures.append(f"{call.method} {call.path}: {response.status_code} {response.text}")
    assert not failures, "\n".join(failures)


def test_signing_keys_need_a_read_write_token(qstash, read_only):
    refused = http_client.get(qstash.url + "/v2/keys", headers=read_only)
    assert refused.status_code == 403
    assert refused.json() == {"error": "reading signing keys needs a read-write token: "
                                       "this token is read-only"}
    assert qstash.current_key not in refused.text and qstash.next_key not in refused.text
    allowed = http_client.get(qstash.url + "/v2/keys", headers=qstash.auth)
    assert allowed.json() == {"current": qstash.current_key, "next": qstash.next_key}


CREDENTIAL = "Bearer forwarded-secret-7f3a"
COOKIE = "session=forwarded-cookie-91c2"


def test_read_only_tokens_see_forwarded_credentials_redacted(qstash, read_only):
    from tests.operator.factories import make_dlq

    forwarded = {"Upstash-Forward-Authorization": CREDENTIAL, "Upstash-Forward-Cookie": COOKIE,
                 "Upstash-Forward-X-Trace": "visible", "Upstash-Delay": "1d",
                 "Upstash-Callback": "https://example.com/cb",
                 "Upstash-Callback-Forward-Authorization": CREDENTIAL}
    published = http_client.post(qstash.url + "/v2/publish/https://example.com/hook",
                                 headers={**qstash.auth, **forwarded}, content=b"x")
    message_id = published.json()["messageId"]
    scheduled = http_client.post(qstash.url + "/v2/schedules/https://example.com/s",
                                 headers={**qstash.auth, **forwarded, "Upstash-Cron": "0 0 1 1 *"})
    schedule_id = scheduled.json()["scheduleId"]
    entry = make_dlq(qstash.tenant)
    entry.message.headers = {"Authorization": [CREDENTIAL], "X-Trace": ["visible"]}
    entry.message.save(update_fields=["headers"])
    entry.response_headers = {"Set-Cookie": [COOKIE], "X-Upstream": ["visible"]}
    entry.save(update_fields=["response_headers"])
    Event.objects.filter(message_id=entry.message_id).update(
        response_status=500, response_headers={"Set-Cookie": [COOKIE]})
    reads = [f"/v2/messages/{message_id}", f"/v2/events?messageId={message_id}",
             f"/v2/schedules/{schedule_id}", "/v2/schedules", "/v2/dlq",
             f"/v2/dlq/{entry.dlq_id}", f"/v2/events?messageId={entry.message_id}"]
    for path in reads:
        hidden = http_client.get(qstash.url + path, headers=read_only)
        assert hidden.status_code == 200, path
        assert "forwarded-secret" not in hidden.text and "forwarded-cookie" not in hidden.text, path
        assert "REDACTED" in hidden.text and "visible" in hidden.text, path
        shown = http_client.get(qstash.url + path, headers=qstash.auth)  # the SDKs' full view
        assert CREDENTIAL in shown.text or COOKIE in shown.text, path
