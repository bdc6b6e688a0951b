"""schemathesis against the live API from its own OpenAPI schema: no 5xx, every 4xx explains."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings

from tests.security.endpoints import routes_and_methods

pytestmark = pytest.mark.django_db(transaction=True)

# Examples per operation: about 40 operations x 40 keep the whole run near one minute.
EXAMPLES = int(os.environ.get("QSTASH_FUZZ_EXAMPLES", "40"))


def error_is_explained(response: requests.Response) -> bool:
    try:
        body = response.json()
    except ValueError:
        return False
    return isinstance(body, dict) and isinstance(body.get("error"), str) and bool(body["error"])


def test_schema_is_served_and_valid(qstash):
    response = requests.get(qstash.url + "/v2/openapi.json", timeout=30)
    assert response.status_code == 200
    schema = response.json()
    assert schema["openapi"].startswith("3.")
    assert "bearerAuth" in schema["components"]["securitySchemes"]
    # Every route and method of api/urls.py but the schema itself is an operation.
    operations = sum(len(methods) for methods in schema["paths"].values())
    assert operations == len(routes_and_methods()) - 1


def test_no_5xx_and_every_4xx_explained(qstash, sink):
    # 127.0.0.1, not "localhost" (no IPv6 attempt first), and a fresh connection per request:
    # the test server's keep-alive connections stall on delayed ACKs, ~40 ms a request.
    base = qstash.url.replace("localhost", "127.0.0.1")
    schema = schemathesis.openapi.from_url(base + "/v2/openapi.json")
    auth = {"Authorization": f"Bearer {qstash.token}"}
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    operations = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        operations += 1

        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=False,
                  phases=[Phase.explicit, Phase.generate],
                  suppress_health_check=list(HealthCheck))
        @given(case=operation.as_strategy())
        def run(case) -> None:
            response = case.call(base_url=base, headers=auth, timeout=30)
            statuses[response.status_code] += 1
            bad = response.status_code >= 500 or (
                400 <= response.status_code < 500 and not error_is_explained(response))
            if bad and len(failures) < 50:
                failures.append(f"{response.status_code} {response.text[:200]!r}\n"
                                f"  {case.as_curl_command(headers=auth, base_url=base)}")

        run()
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    print(f"\nschemathesis: {operations} operations, {total} requests in {elapsed:.0f}s, "
          f"statuses {dict(sorted(statuses.items()))}, "
          f"5xx {sum(n for s, n in statuses.items() if s >= 500)}")
    assert not failures, "\n".join(failures)
