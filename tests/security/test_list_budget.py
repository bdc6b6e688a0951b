"""List pages of big bodies stop at MAX_LIST_RESPONSE_BYTES: bounded answers, bounded memory."""

from __future__ import annotations

import gc
import json
import os
import tracemalloc

import pytest

from django_qstash.models import ApiToken, Event
from tests.operator.factories import make_dlq, make_message

MIB = 1024 * 1024
BUDGET = 4 * MIB
MESSAGES = 12
EVENTS_EACH = 4  # CREATED, DELIVERED from the factory, two more below
# A page's JSON exists a few times over while it is answered (rows, text, bytes): memory is
# bounded by a small multiple of the budget, where every event's body used to be copied.
MEMORY_BOUND = 6 * BUDGET


@pytest.fixture
def budget(settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_LIST_RESPONSE_BYTES": BUDGET}


@pytest.fixture
def read_only(db, budget):
    from django_qstash.engine.tenants import create_tenant

    tenant = create_tenant("big-bodies")
    _, secret = ApiToken.issue(tenant, name="ro", read_only=True)
    return tenant, {"HTTP_AUTHORIZATION": f"Bearer {secret}"}


def big_messages(tenant) -> None:
    for _ in range(MESSAGES):
        message = make_message(tenant, body=os.urandom(MIB))
        for state in ("ACTIVE", "RETRY"):
            Event.objects.create(tenant=tenant, message_id=message.id, state=state,
                                 time=message.created_at, url=message.url)


def pages(client, path: str, key: str, auth: dict) -> list[tuple[int, list, int]]:
    """Every page of ``path``, following cursors: (bytes, rows, peak traced bytes)."""
    result, cursor = [], None
    while True:
        tracemalloc.start()
        try:
            response = client.get(path, {"cursor": cursor} if cursor else {}, **auth)
            peak = tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()
        assert response.status_code == 200, response.content[:500]
        data = response.json()
        result.append((len(response.content), data[key], peak))
        cursor = data.get("cursor")
        if not cursor:
            return result


def test_events_pages_stay_within_the_byte_budget_and_lose_nothing(client, read_only):
    tenant, auth = read_only
    big_messages(tenant)
    found = pages(client, "/v2/events?count=1000", "events", auth)
    assert len(found) > 1  # a thousand were asked for: the budget ended the pages early
    for size, rows, peak in found:
        assert rows and size <= BUDGET
        assert peak < MEMORY_BOUND, f"one page traced {peak / MIB:.0f} MiB"
    seen = [(e["messageId"], e["state"], e["time"]) for _, rows, _ in found for e in rows]
    assert len(seen) == len(set(seen)) == MESSAGES * EVENTS_EACH


def test_a_row_bigger_than_the_budget_still_comes_alone(client, read_only, settings):
    tenant, auth = read_only
    settings.QSTASH = {**settings.QSTASH, "MAX_LIST_RESPONSE_BYTES": 1000}
    make_message(tenant, body=b"x" * 5000)
    found = pages(client, "/v2/logs", "logs", auth)
    assert [len(rows) for _, rows, _ in found] == [1, 1]
    assert all(rows[0]["body"] for _, rows, _ in found)


def test_dlq_pages_stay_within_the_byte_budget_and_lose_nothing(client, read_only):
    tenant, auth = read_only
    made = {make_dlq(tenant, body=os.urandom(MIB)).dlq_id for _ in range(MESSAGES)}
    found = pages(client, "/v2/dlq?count=100", "messages", auth)
    assert len(found) > 1
    for size, rows, peak in found:
        assert rows and size <= BUDGET
        assert peak < MEMORY_BOUND, f"one page traced {peak / MIB:.0f} MiB"
    listed = [m["dlqId"] for _, rows, _ in found for m in rows]
    assert len(listed) == len(set(listed)) and set(listed) == made


def wsgi_get(path: str, params: dict, auth: dict) -> bytes:
    """One request as a WSGI server makes it: call, read the body, close (the test client
    keeps its own references to every response, which would hide what this test looks for)."""
    from django.core import signals
    from django.core.handlers.wsgi import WSGIHandler
    from django.db import close_old_connections
    from django.test import RequestFactory

    environ = RequestFactory().get(path, params, **auth).environ
    # As the test client does: the test's transaction must outlive the request.
    signals.request_started.disconnect(close_old_connections)
    signals.request_finished.disconnect(close_old_connections)
    try:
        response = WSGIHandler()(environ, lambda status, headers, exc_info=None: None)
        body = b"".join(response)
        response.close()
    finally:
        signals.request_started.connect(close_old_connections)
        signals.request_finished.connect(close_old_connections)
    return body


def test_answered_pages_are_freed_at_once_not_by_a_later_garbage_collection(read_only):
    # A view, its request and its response refer to each other; unless the answer's rows are
    # let go when it closes, every page waits for the cyclic collector, which counts objects,
    # not bytes: a client paging through big bodies grew a process by hundreds of MiB.
    tenant, auth = read_only
    big_messages(tenant)
    cursor = json.loads(wsgi_get("/v2/events", {"count": 1000}, auth))["cursor"]
    gc.collect()
    gc.disable()
    tracemalloc.start()
    try:
        for _ in range(8):
            cursor = json.loads(wsgi_get("/v2/events", {"count": 1000, "cursor": cursor},
                                         auth))["cursor"]
        retained = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
        gc.enable()
    assert retained < BUDGET, f"{retained / MIB:.0f} MiB still held after 8 pages"
