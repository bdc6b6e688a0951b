"""Requests that cannot be stored, sent all at once, fail alone: every tenant keeps publishing."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from django.db import connection

from django_qstash.engine.publishing import publish
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message
from tests.support import http_client

pytestmark = pytest.mark.django_db(transaction=True)

POISONED_BATCH = b'[{"destination": "%s", "headers": {"Upstash-Label": "\\ud800"}}]'
PROMPT = 5.0  # seconds: far above an idle publish, far below "hung"


def run_together(calls: list, timeout: float = 20) -> list:
    """Start every call at the same moment on its own thread; each result or exception.
    Threads still running after ``timeout`` are reported as "hung" (and left behind)."""
    barrier = threading.Barrier(len(calls))
    results: list = ["hung"] * len(calls)

    def run(index, call):
        barrier.wait()
        try:
            results[index] = call()
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i, c), daemon=True) for i, c in enumerate(calls)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + timeout
    for thread in threads:
        thread.join(max(0.0, deadline - time.monotonic()))
    return results


def test_unstorable_rows_in_the_shared_writer_fail_alone(sink):
    """The engine, below the API's input checks: a label the database cannot encode reaches
    the group commit alongside other tenants' rows."""
    poisoner, other = create_tenant("poisoner"), create_tenant("other")
    delay = [("Upstash-Delay", "1h")]  # stored, not delivered
    poisoned = [lambda: publish(poisoner, f"{sink.url}/p", b"x",
                                [*delay, ("Upstash-Label", "\ud800")]) for _ in range(20)]
    good = [lambda: publish(other, f"{sink.url}/g", b"x", delay) for _ in range(20)]
    results = run_together([*poisoned, *good])
    assert "hung" not in results, "a publish never returned"
    assert all(isinstance(r, Exception) for r in results[:20])
    assert not any(isinstance(r, Exception) for r in results[20:]), results[20:]
    assert Message.objects.filter(tenant=other).count() == 20
    assert not Message.objects.filter(tenant=poisoner).exists()
    for tenant in (poisoner, other):
        [result] = run_together([lambda t=tenant: publish(t, f"{sink.url}/after", b"x", delay)],
                                timeout=PROMPT)
        assert result != "hung" and not isinstance(result, Exception), result


def post(url: str, **kwargs) -> httpx.Response:
    """A POST that tries again when the test server's small listen backlog (Django's live
    server accepts 10 waiting connections) resets a connection before any answer; a timeout
    is never retried: that is the hang these tests look for."""
    for attempt in range(3):
        try:
            return http_client.post(url, **kwargs)
        except httpx.TimeoutException:
            raise
        except httpx.TransportError:
            if attempt == 2:
                raise
            time.sleep(0.2)
    raise AssertionError("unreachable")


def test_concurrent_poisoned_batches_leave_every_tenant_served(qstash, other_tenant, sink):
    url = qstash.url
    batch = POISONED_BATCH % f"{sink.url}/p".encode()

    def poisoned_batch():
        return post(url + "/v2/batch", content=batch, headers=qstash.auth, timeout=30)

    def good_publish(auth):
        return lambda: post(f"{url}/v2/publish/{sink.url}/g", content=b"x",
                            headers={**auth, "Upstash-Delay": "1h"}, timeout=30)

    other_auth = {"Authorization": f"Bearer {other_tenant.token}"}
    results = run_together([poisoned_batch] * 20 + [good_publish(other_auth)] * 10)
    assert "hung" not in results, "requests hung"
    assert {r.status_code for r in results[:20]} == {400}, [r.text for r in results[:20]]
    assert all("surrogate" in r.json()["error"] for r in results[:20])
    assert {r.status_code for r in results[20:]} == {200}
    with ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda call: call(), [
            good_publish(qstash.auth), good_publish(other_auth),
            lambda: http_client.get(url + "/v2/queues", headers=qstash.auth, timeout=PROMPT),
            lambda: http_client.get(url + "/v2/queues", headers=other_auth, timeout=PROMPT)]))
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert time.monotonic() - started < PROMPT
