"""schemathesis against the live API from its own OpenAPI schema: no 5xx, every 4xx explains.

Both of schemathesis' modes run: positive (valid by the schema) and negative (each case breaks
the schema somewhere: wrong types, missing or extra fields, bad formats). The run is bounded by
QSTASH_FUZZ_EXAMPLES cases per operation and mode, and by a request timeout; deliveries the
generated destinations cause never leave the loopback interface."""

from __future__ import annotations

import os
import time
from collections import Counter

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.generation import GenerationMode

from tests.security.endpoints import routes_and_methods
from tests.support.loopback import loopback_only

pytestmark = pytest.mark.django_db(transaction=True)

# Cases per operation and mode: 38 operations x 2 modes x 25 keep the run near 1.5 minutes.
EXAMPLES = int(os.environ.get("QSTASH_FUZZ_EXAMPLES", "25"))
REQUEST_TIMEOUT = 30


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
    per_mode: Counter[str] = Counter()
    failures: list[str] = []
    started = time.monotonic()
    operations = 0
    with loopback_only() as refused:
        for result in schema.get_all_operations():
            operation = result.ok()
            operations += 1
            for mode in GenerationMode:

                @settings(max_examples=EXAMPLES, deadline=None, database=None,
                          derandomize=False, phases=[Phase.explicit, Phase.generate],
                          suppress_health_check=list(HealthCheck))
                @given(case=operation.as_strategy(generation_mode=mode))
                def run(case) -> None:
                    # Negative cases may drop the token; they are meant to break the input.
                    case.headers = {**(case.headers or {}), **auth}
                    response = case.call(base_url=base, headers=auth, timeout=REQUEST_TIMEOUT)
                    statuses[response.status_code] += 1
                    per_mode[mode.value] += 1  # noqa: B023 (run() is called right below)
                    bad = response.status_code >= 500 or (
                        400 <= response.status_code < 500 and not error_is_explained(response))
                    if bad and len(failures) < 50:
                        failures.append(f"{response.status_code} {response.text[:200]!r}\n"
                                        f"  {case.as_curl_command(headers=auth, base_url=base)}")

                run()
    elapsed = time.monotonic() - started
    total = sum(statuses.values())
    print(f"\nschemathesis: {operations} operations, {total} requests "
          f"({dict(per_mode)}) in {elapsed:.0f}s, statuses {dict(sorted(statuses.items()))}, "
          f"5xx {sum(n for s, n in statuses.items() if s >= 500)}, "
          f"non-loopback attempts refused {len(refused)}")
    assert operations == len(routes_and_methods()) - 1
    assert per_mode["positive"] >= operations and per_mode["negative"] >= operations
    assert not failures, "\n".join(failures)
