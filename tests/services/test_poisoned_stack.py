"""The production stack (granian + PostgreSQL + Celery) under unstorable and chunked input."""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.security.test_chunked_bodies import check_chunked_publishes
from tests.security.test_poisoned_batches import POISONED_BATCH, PROMPT
from tests.support import http_client
from tests.support.services import require_services

pytestmark = pytest.mark.services


@pytest.fixture(scope="module")
def stack():
    require_services()
    from tests.support.stack import drop_stack, start_stack

    stack = start_stack(workers=1, dispatchers=1)
    yield stack
    drop_stack(stack)


def test_concurrent_poisoned_batches_leave_every_tenant_served(stack, sink):
    other = {"Authorization": "Bearer " + stack.manage(
        "qstash_create_token", "--tenant", "other", "--quiet").strip()}
    batch = POISONED_BATCH % f"{sink.url}/p".encode()

    def poisoned():
        return http_client.post(stack.url + "/v2/batch", content=batch, headers=stack.auth, timeout=30)

    def publish(auth):
        return lambda: http_client.post(f"{stack.url}/v2/publish/{sink.url}/g", content=b"x",
                                        headers={**auth, "Upstash-Delay": "1h"}, timeout=30)

    with ThreadPoolExecutor(30) as pool:
        answers = list(pool.map(lambda call: call(), [poisoned] * 20 + [publish(other)] * 10))
    assert {a.status_code for a in answers[:20]} == {400}, [a.text for a in answers[:20]]
    assert {a.status_code for a in answers[20:]} == {200}
    started = time.monotonic()
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda call: call(), [
            publish(stack.auth), publish(other),
            lambda: http_client.get(stack.url + "/v2/queues", headers=stack.auth, timeout=PROMPT),
            lambda: http_client.get(stack.url + "/v2/queues", headers=other, timeout=PROMPT)]))
    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert time.monotonic() - started < PROMPT


def test_chunked_bodies_under_granian_and_postgresql(stack, sink):
    check_chunked_publishes(stack.url, stack.token, sink)
