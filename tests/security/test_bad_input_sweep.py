"""Malformed requests to every endpoint: each answers a JSON 4xx (or succeeds), never a 5xx."""

from __future__ import annotations

import io
import itertools
import json
from collections import Counter

import pytest
from django.test import Client

from django_qstash.engine.tenants import create_tenant
from django_qstash.models import ApiToken
from tests.operator.factories import make_dlq, make_message
from tests.security.endpoints import CALLS, covered, fill, routes_and_methods
from tests.support.loopback import loopback_only

pytestmark = pytest.mark.django_db(transaction=True)

SURROGATE = "\ud800"
# Strings no database column can hold, or that stretch a parser.
NASTY_STRINGS = [SURROGATE, f"a{SURROGATE}b", "\udfff", "a\x00b", "x" * 70_000, "", " ", "é✓"]
# Values of the wrong type for any field; json.dumps writes the non-finite floats as NaN and
# Infinity, which Python's JSON parser reads back (and 1e400, valid JSON, reads as infinity).
WRONG_TYPES = [None, True, 0, -1, 10**100, 1.5e308, float("inf"), float("-inf"), float("nan"),
               [], {}, [[[]]], {"a": {"b": {}}}]
RAW_BODIES = [b"{", b"[", b"nul", b"\xff\xfe\xfd", b'"\\ud800"', b'{"a": "\\ud800"}',
              b'["\\udfff"]', b"1e999999", b"[" * 5000 + b"]" * 5000, b'{"a": "\\u0000"}',
              b"\x00", b'{"a":1,"a":2}', b"-", b"\xef\xbb\xbf{}", b"NaN", b'{"a": 1e400}']
# Path parts as they arrive percent-encoded: a UTF-8 surrogate, NUL, a stray byte, long, odd.
BAD_PATH_PARTS = ["%ED%A0%80", "%00", "%FF", "x" * 5000, "..", "%2F", "%C3%A9", "a%20b", "1-0"]
BAD_QUERIES = ["count=%ED%A0%80", "cursor=%00", "count=abc", "count=-1", "count=99999999999999999",
               "fromDate=1e400", "toDate=99999999999999", "label=%ED%A0%80", "messageId=%00",
               "cursor=%FF", "url=" + "x" * 5000, "responseStatus=abc", "parallelism=%ED%A0%80",
               "dlqIds=%ED%A0%80", "queueName=%00",
               # Python counts a control character such as U+001F as space, int() does not
               "fromDate=%1F7", "toDate=7%1C", "count=%1F7", "cursor=%1F7", "count=%207"]
UPSTASH_HEADERS = ["Upstash-Delay", "Upstash-Retries", "Upstash-Timeout", "Upstash-Method",
                   "Upstash-Callback", "Upstash-Failure-Callback", "Upstash-Label",
                   "Upstash-Deduplication-Id", "Upstash-Content-Based-Deduplication",
                   "Upstash-Forward-X-Custom", "Upstash-Not-Before", "Upstash-Flow-Control-Key",
                   "Upstash-Flow-Control-Value", "Upstash-Cron", "Upstash-Schedule-Id",
                   "Upstash-Retry-Delay", "Upstash-Queue-Name", "X-Custom", "Content-Type",
                   "Upstash-Workflow-RunId", "Upstash-Callback-Workflow-RunId",
                   "Upstash-Failure-Callback-Flow-Control-Value",
                   "Upstash-Callback-Failure-Callback", "Upstash-Workflow-CallType",
                   "Upstash-Workflow-Url", "Upstash-Feature-Set", "Upstash-Workflow-Invoke",
                   "Upstash-Forward-Upstash-Workflow-Invoke-Count",
                   "Upstash-Workflow-Sdk-Version"]
HEADER_VALUES = [SURROGATE, "a\x00b", "-1", "1e999", "abc", "9" * 400, "x" * 5000, "",
                 "ftp://x", "http://[::1", "é"]


class Sweep:
    """Sends requests through the whole Django stack and tallies the answers."""

    def __init__(self, token: str) -> None:
        self.client = Client(raise_request_exception=False)
        self.auth = {"HTTP_AUTHORIZATION": f"Bearer {token}"}
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def send(self, method: str, path: str, body: bytes = b"", query: str = "", **extra):
        # A callable header value is asked for each request (a run id of its own, say).
        extra = {name: value() if callable(value) else value for name, value in extra.items()}
        environ = {**self.auth, **extra}
        if query:
            environ["QUERY_STRING"] = query
        response = self.client.generic(method, path, data=body,
                                       content_type="application/json", **environ)
        self.statuses[response.status_code] += 1
        explained = True
        if response.status_code >= 400:
            try:
                error = json.loads(response.content).get("error")
                explained = isinstance(error, str) and bool(error)
            except (ValueError, AttributeError):
                explained = False
        if (response.status_code >= 500 or not explained) and len(self.failures) < 60:
            shown = {k: (v if len(repr(v)) < 80 else repr(v)[:80]) for k, v in extra.items()}
            self.failures.append(f"{response.status_code} {method} {path[:80]} q={query[:60]!r}"
                                 f" body={body[:60]!r} {shown} -> {response.content[:160]!r}")
        return response

    def json(self, method: str, path: str, value, **extra):
        return self.send(method, path, json.dumps(value).encode(), **extra)

    @property
    def total(self) -> int:
        return sum(self.statuses.values())

    @property
    def server_errors(self) -> int:
        return sum(n for status, n in self.statuses.items() if status >= 500)


def variants(template):
    """``template`` with each string leaf (and each key) made nasty and each leaf mistyped."""
    yield from _replace(template, NASTY_STRINGS + WRONG_TYPES)


def _replace(node, replacements):
    if isinstance(node, dict):
        for key, value in node.items():
            for bad in NASTY_STRINGS[:4]:
                yield {**{k: v for k, v in node.items() if k != key}, bad: value}
            for changed in _replace(value, replacements):
                yield {**node, key: changed}
    elif isinstance(node, list):
        for index, value in enumerate(node):
            for changed in _replace(value, replacements):
                yield [*node[:index], changed, *node[index + 1:]]
    else:
        yield from replacements


@pytest.fixture
def world(sink, qstash_runtime):
    """A tenant with one of each resource, so that good ids and bad input meet real rows."""
    tenant = create_tenant("sweep")
    _, token = ApiToken.issue(tenant, name="sweep")
    message = make_message(tenant, status="pending", url=f"{sink.url}/m")
    dlq = make_dlq(tenant, url=f"{sink.url}/d")
    names = dict(message=message.id, dlq=dlq.dlq_id, queue="sweep-q", group="sweep-g",
                 schedule="sweep-s", key="sweep-k", run="wfr_sweep", event="sweep-e",
                 account=tenant.account_id,
                 sink=sink.url)
    sweep = Sweep(token)
    assert sweep.send("POST", f"/v2/publish/{sink.url}/wf", b"{}",
                      HTTP_UPSTASH_WORKFLOW_INIT="true", HTTP_UPSTASH_WORKFLOW_RUNID="wfr_sweep",
                      HTTP_UPSTASH_DELAY="1h").status_code == 200
    assert sweep.json("POST", "/v2/queues", {"queueName": "sweep-q"}).status_code == 200
    assert sweep.json("POST", "/v2/topics/sweep-g/endpoints",
                      {"endpoints": [{"url": f"{sink.url}/g"}]}).status_code == 200
    yield sweep, names
    qstash_runtime.wait_idle(timeout=30)


def json_cases(names: dict) -> list[tuple[str, str, object, dict]]:
    """(method, path, a good body, the headers the call needs to get as far as its body)."""
    sink = names["sink"]
    item = {"destination": f"{sink}/b", "body": "hi", "queue": "sweep-q",
            "headers": {"Upstash-Label": "l", "X-A": "v", "Upstash-Retries": "0"}}
    cases = [
        ("POST", "/v2/batch", [item]),
        ("POST", "/v2/batch/trigger", [{"destination": f"{sink}/wf", "body": {"n": 1},
                                        "headers": {"Upstash-Workflow-RunId": "wfr_sweep2",
                                                    "Upstash-Label": "l"}}]),
        ("DELETE", "/v2/messages", {"messageIds": [names["message"]]}),
        ("DELETE", "/v2/dlq", {"dlqIds": [names["dlq"]]}),
        ("POST", "/v2/dlq/retry", {"dlqIds": [names["dlq"]]}),
        ("POST", "/v2/topics/sweep-g/endpoints",
         {"endpoints": [{"url": f"{sink}/e", "name": "n"}]}),
        ("DELETE", "/v2/topics/sweep-g/endpoints",
         {"endpoints": [{"url": f"{sink}/x", "name": "x"}]}),
        ("PATCH", "/v2/topics/sweep-g", {"headers": {"X-A": "1", "X-B": ["2"]}}),
        ("POST", "/v2/queues", {"queueName": "sweep-q2", "parallelism": 2, "paused": False}),
        ("POST", "/v2/wait/sweep-e", {"url": f"{sink}/wf", "timeout": "1h",
                                      "timeoutUrl": f"{sink}/t", "timeoutHeaders": {"X-A": ["1"]},
                                      "step": {"stepId": 1, "stepName": "w"}}),
    ]
    # A wait names its run in a header: without it the body is never read.
    run = {"HTTP_UPSTASH_WORKFLOW_RUNID": names["run"]}
    cases = [(method, path, body, run if path.startswith("/v2/wait/") else {})
             for method, path, body in cases]
    # Workflow bodies the server reads: a step appended to the run, and context.invoke's
    # trigger of a child run (a new run each time: a repeated trigger is not read again).
    step = {"stepId": 1, "stepName": "s", "stepType": "Run", "out": "\"x\"", "concurrent": 1}
    children = itertools.count()
    invoke = {"body": "\"b\"", "headers": {"Upstash-Workflow-Runid": [names["run"]]},
              "workflowRunId": names["run"], "workflowRunCreatedAt": 1,
              "workflowUrl": f"{sink}/wf", "step": {**step, "stepType": "Invoke"}}
    return [*cases,
            ("POST", f"/v2/publish/{sink}/wf", step,
             {**run, "HTTP_UPSTASH_WORKFLOW_INIT": "false"}),
            ("POST", f"/v2/publish/{sink}/child", invoke,
             {"HTTP_UPSTASH_WORKFLOW_INIT": "true", "HTTP_UPSTASH_WORKFLOW_INVOKE": "true",
              "HTTP_UPSTASH_WORKFLOW_RUNID": lambda: f"wfr_child_{next(children)}"})]


def run_sweep(sweep: Sweep, names: dict) -> None:
    sink = names["sink"]
    every_call = [(c.method, fill(c.path, names)) for c in CALLS]
    # JSON bodies: nasty or mistyped values in every position, and bodies that are not JSON.
    for method, path, template, headers in json_cases(names):
        for body in variants(template):
            sweep.json(method, path, body, **headers)
        for raw in RAW_BODIES:
            sweep.send(method, path, raw, **headers)
    # Headers of the publishing endpoints.
    step_of_the_run = {"HTTP_UPSTASH_WORKFLOW_RUNID": names["run"],
                       "HTTP_UPSTASH_WORKFLOW_INIT": "false"}
    for path in (f"/v2/publish/{sink}/p", f"/v2/enqueue/sweep-q/{sink}/p",
                 f"/v2/schedules/{sink}/s", f"/v2/publish/{sink}/wf"):
        extra = ({"HTTP_UPSTASH_CRON": "* * * * *"} if "schedules" in path
                 else step_of_the_run if path.endswith("/wf") else {})
        for name in UPSTASH_HEADERS:
            for value in HEADER_VALUES:
                key = "CONTENT_TYPE" if name == "Content-Type" else \
                    "HTTP_" + name.upper().replace("-", "_")
                sweep.send("POST", path, b"body", **{**extra, key: value})
        sweep.send("POST", path, SURROGATE.encode("utf-8", "surrogatepass"), **extra)
    # Path parts and query strings of every endpoint, and every method on every path.
    for method, path in every_call:
        for query in BAD_QUERIES:
            sweep.send(method, path, query=query)
        for other in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            sweep.send(other, path, b"{}")
    for part in BAD_PATH_PARTS:
        for method, template in {(c.method, c.path) for c in CALLS}:
            if "{" in template:
                path = template.format(**dict.fromkeys(
                    ("message", "dlq", "queue", "group", "schedule", "key", "run", "event",
                     "account"),
                    part))
                sweep.send(method, path)
        sweep.send("POST", f"/v2/publish/{part}")
        sweep.send("POST", f"/v2/enqueue/{part}/{sink}/p")
        sweep.send("POST", f"/v2/schedules/{sink}/{part}", HTTP_UPSTASH_CRON="* * * * *")
    # A chunked body that the server did not decode, and one it did.
    for method, path, template, headers in json_cases(names):
        body = json.dumps(template).encode()
        sweep.send(method, path, body, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
                   **headers)
        sweep.send(method, path, body, CONTENT_LENGTH="", HTTP_TRANSFER_ENCODING="chunked",
                   **{"wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}, **headers)
    # Reads after all of that: nothing stored above may make them fail.
    for method, path in every_call:
        if method == "GET":
            sweep.send(method, path)


def test_every_endpoint_answers_bad_input_with_a_4xx(world):
    sweep, names = world
    assert not routes_and_methods() - covered(CALLS)  # the sweep reaches every endpoint
    with loopback_only():  # bad destinations that get through are never dialled
        run_sweep(sweep, names)
    print(f"\nbad-input sweep: {sweep.total} requests, statuses "
          f"{dict(sorted(sweep.statuses.items()))}, 5xx {sweep.server_errors}")
    assert sweep.total >= 500
    assert sweep.server_errors == 0 and not sweep.failures, "\n".join(sweep.failures)
