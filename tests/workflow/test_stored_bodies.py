"""Step messages store their own step once; each delivery still carries exactly the history
up to itself, composed when it is sent — also on a retry after later steps were appended."""

from __future__ import annotations

import base64
import json
import time

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.models import DlqEntry, Message, WorkflowRun
from tests.e2e.helpers import api
from tests.workflow.helpers import FEATURES, decoded, history, trigger
from tests.workflow.stored import stored

pytestmark = pytest.mark.django_db(transaction=True)
OUT = "o" * 400  # a step result big enough that copies of it would dominate the storage


def publish_step(qstash, url: str, run_id: str, step_id: int, name: str, concurrent: int = 1,
                 **headers) -> str:
    """What the SDK publishes for a finished step; returns the step message's id."""
    headers = {"Upstash-Workflow-Init": "false", "Upstash-Workflow-RunId": run_id,
               "Upstash-Workflow-Url": url, "Upstash-Feature-Set": FEATURES,
               "Upstash-Workflow-Sdk-Version": "1", "content-type": "application/json",
               **headers}
    body = json.dumps({"stepId": step_id, "stepName": name, "stepType": "Run",
                       "out": json.dumps(f"{name}:{OUT}"), "concurrent": concurrent})
    response = api(qstash, "POST", "/v2/batch",
                   json=[{"destination": url, "headers": headers, "body": body}])
    assert response.status_code == 200, response.text
    return response.json()[0]["messageId"]


def arrival_ids(arrival) -> list[str]:
    return [entry["messageId"] for entry in history(arrival)]


def run_with_steps(qstash, sink, run_id: str, count: int) -> list:
    url = f"{sink.url}/wf/{run_id}"
    init_id = trigger(qstash, url, run_id)["messageId"]
    step_ids = [publish_step(qstash, url, run_id, i, f"s{i}") for i in range(1, count + 1)]
    arrivals = {a.headers["Upstash-Message-Id"]: a
                for a in sink.wait_for(count + 1, f"/wf/{run_id}", timeout=60)}
    # Each delivery: the initial body, then every step up to and including its own.
    for position, message_id in enumerate([init_id, *step_ids]):
        assert arrival_ids(arrivals[message_id]) == [init_id, *step_ids[:position]]
    assert json.loads(decoded(history(arrivals[step_ids[-1]])[-1]))["stepName"] == f"s{count}"
    return step_ids


def test_stored_bytes_grow_linearly_with_the_steps(qstash, sink):
    run_with_steps(qstash, sink, "wfr_short", 15)
    run_with_steps(qstash, sink, "wfr_long", 30)
    short, long = (stored(connection.cursor(), run_id) for run_id in ("wfr_short", "wfr_long"))
    # Storing the history up to each step made this ratio about 3.5 (it grows with N).
    assert long.total() <= 2.1 * short.total(), (short.summary(), long.summary())
    assert long.steps == 2 * short.steps


def test_a_retried_branch_carries_its_history_not_the_steps_appended_since(qstash, sink):
    """Parallel branches: A's first delivery fails; B is appended while A waits for its
    retry. A's retry carries what its first attempt did (no B); B's carries A and B."""
    url = f"{sink.url}/wf"
    init_id = trigger(qstash, url, "wfr_branches")["messageId"]
    sink.wait_for(1, "/wf")
    flaky = f"{sink.url}/flaky/1/wf"
    a_id = publish_step(qstash, flaky, "wfr_branches", 1, "a", concurrent=2,
                        **{"Upstash-Retries": "2", "Upstash-Retry-Delay": "3000"})
    sink.wait_for(1, "/flaky")  # answered 500; its retry (in 3 s) is composed after B
    b_id = publish_step(qstash, url, "wfr_branches", 2, "b", concurrent=2)
    [_, b_arrival] = sink.wait_for(2, "/wf")
    first, retry = sink.wait_for(2, "/flaky")
    assert retry.headers["Upstash-Retried"] == "1"
    assert arrival_ids(retry) == arrival_ids(first) == [init_id, a_id]
    assert retry.body == first.body
    assert arrival_ids(b_arrival) == [init_id, a_id, b_id]


def test_a_stored_full_body_is_delivered_as_is(qstash, sink):
    """A step message stored with its history (as messages were before bodies were composed)
    is sent with that body; one stored as its step alone gets the history composed."""
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_kept")
    step_id = publish_step(qstash, url, "wfr_kept", 1, "a")
    [_, arrival] = sink.wait_for(2, "/wf")
    composed, legacy = Message.objects.get(pk=step_id), Message.objects.get(pk=step_id)
    assert bytes(composed.body) == b""  # stored once, in its step
    legacy.body = b'[{"messageId":"msg_kept","body":"e30=","callType":"step"}]'
    fill_bodies([composed, legacy])
    assert composed.body == arrival.body
    assert legacy.body == b'[{"messageId":"msg_kept","body":"e30=","callType":"step"}]'


def test_a_step_callback_carries_the_body_the_step_was_sent_with(qstash, sink):
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_called_back")
    publish_step(qstash, url, "wfr_called_back", 1, "a", **{"Upstash-Callback": f"{sink.url}/cb"})
    [_, arrival] = sink.wait_for(2, "/wf")
    [callback] = sink.wait_for(1, "/cb")
    assert base64.b64decode(json.loads(callback.body)["sourceBody"]) == arrival.body
    assert len(history(arrival)) == 2


def test_a_batch_is_composed_with_two_queries_and_plain_messages_with_none(qstash, sink,
                                                                            plain_sink):
    run_with_steps(qstash, sink, "wfr_batch_a", 3)
    run_with_steps(qstash, sink, "wfr_batch_b", 4)
    sent = {a.headers["Upstash-Message-Id"]: a.body for a in sink.received("/wf/wfr_batch_")}
    steps = list(Message.objects.filter(workflow_run_id__startswith="wfr_batch_"))
    assert len(steps) == len(sent) == 9
    with CaptureQueriesContext(connection) as composing:
        fill_bodies(steps)
    assert len(composing.captured_queries) == 2
    assert {m.id: bytes(m.body) for m in steps} == sent
    plain_id = api(qstash, "POST", f"/v2/publish/{plain_sink.url}/p", content=b"x").json()
    plain = Message.objects.get(pk=plain_id["messageId"])
    with CaptureQueriesContext(connection) as untouched:
        fill_bodies([plain])
    assert not untouched.captured_queries and bytes(plain.body) == b"x"


def test_a_dead_lettered_step_keeps_the_body_it_was_sent_with(qstash, sink):
    """Its DLQ entry may outlive the run (retention purges ended runs with their steps)."""
    url = f"{sink.url}/wf"
    trigger(qstash, url, "wfr_dead")
    publish_step(qstash, f"{sink.url}/status/500/wf", "wfr_dead", 1, "a",
                 **{"Upstash-Retries": "0"})
    [arrival] = sink.wait_for(1, "/status/500")
    entry = wait_for_dlq_entry("wfr_dead")
    WorkflowRun.objects.filter(run_id="wfr_dead").delete()
    shown = api(qstash, "GET", f"/v2/dlq/{entry.dlq_id}").json()
    assert shown["body"].encode() == arrival.body
    assert len(history(arrival)) == 2


def wait_for_dlq_entry(run_id: str, timeout: float = 20) -> DlqEntry:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if entry := DlqEntry.objects.filter(message__workflow_run_id=run_id).first():
            return entry
        time.sleep(0.05)
    raise AssertionError(f"no DLQ entry for {run_id}")
