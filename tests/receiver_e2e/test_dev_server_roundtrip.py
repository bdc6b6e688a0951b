"""The official SDK publishes to the real dev server, whose example receiver accepts the
delivery; the same request replayed with a changed body is rejected."""

from __future__ import annotations

import base64
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from qstash import QStash, Receiver

from django_qstash.core.signing import generate_signing_key
from tests.support import http_client
from tests.support.stack import ROOT, free_port


@dataclass
class DevServer:
    url: str
    token: str
    current_key: str
    next_key: str
    records: Path
    log: Path

    def received(self) -> list[dict[str, Any]]:
        if not self.records.exists():
            return []
        return [json.loads(line) for line in self.records.read_text().splitlines()]


def wait_for(predicate: Callable[[], Any], what: str, log: Path, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if value := predicate():
            return value
        time.sleep(0.1)
    output = log.read_text(errors="replace")[-4000:] if log.exists() else ""
    raise AssertionError(f"timed out waiting for {what}; dev server output:\n{output}")


@pytest.fixture
def dev_server(tmp_path: Path) -> Iterator[DevServer]:
    """``manage.py qstash_dev`` in a subprocess, its credentials pinned through the environment:
    the server signs with the keys the example receiver in the same process verifies with."""
    port = free_port()
    server = DevServer(url=f"http://127.0.0.1:{port}", token="qst_e2e_" + generate_signing_key(),
                       current_key=generate_signing_key(), next_key=generate_signing_key(),
                       records=tmp_path / "received.jsonl", log=tmp_path / "dev-server.log")
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "example_project.settings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'dev.sqlite3'}",
        "QSTASH_TOKEN": server.token,
        "QSTASH_CURRENT_SIGNING_KEY": server.current_key,
        "QSTASH_NEXT_SIGNING_KEY": server.next_key,
        "EXAMPLE_RECEIVER_LOG": str(server.records),
        "PYTHONUNBUFFERED": "1",
    }
    env.pop("CELERY_BROKER_URL", None)  # the dev server always delivers in process
    with open(server.log, "wb") as log:
        process = subprocess.Popen(
            [sys.executable, "manage.py", "qstash_dev", "--port", str(port),
             "--state-file", str(tmp_path / "state.json")],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for(lambda: process.poll() is not None or _answers(server), "the dev server",
                 server.log)
        assert process.poll() is None, server.log.read_text(errors="replace")
        assert f"QSTASH_URL={server.url}" in server.log.read_text()
        yield server
    finally:
        # Its own process group: the server and nothing else of ours.
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)


def _answers(server: DevServer) -> bool:
    try:
        response = http_client.get(server.url + "/v2/keys",
                                   headers={"Authorization": f"Bearer {server.token}"}, timeout=2)
    except httpx.HTTPError:
        return False
    return response.status_code == 200


def _delivered(server: DevServer, message_id: str) -> bool:
    response = http_client.get(server.url + "/v2/events", params={"messageId": message_id},
                               headers={"Authorization": f"Bearer {server.token}"}, timeout=5)
    return any(event.get("state") == "DELIVERED" for event in response.json().get("events", []))


def test_sdk_publish_is_accepted_and_a_tampered_replay_is_rejected(dev_server: DevServer):
    hook = f"{dev_server.url}/example/hook"
    client = QStash(dev_server.token, base_url=dev_server.url, retry=False)
    assert client.signing_key.get().current == dev_server.current_key

    result = client.message.publish_json(url=hook, body={"order": 42, "note": "ünïcode"},
                                         headers={"X-Shop": "demo"}, retries=0)

    records = wait_for(lambda: [r for r in dev_server.received()
                                if r["messageId"] == result.message_id],
                       "the example receiver to accept the message", dev_server.log)
    [record] = records
    body = base64.b64decode(record["bodyBase64"])
    assert json.loads(body) == {"order": 42, "note": "ünïcode"}
    assert record["url"] == hook and record["method"] == "POST"
    wait_for(lambda: _delivered(dev_server, result.message_id), "a DELIVERED event",
             dev_server.log)
    # The SDK's own Receiver agrees that what arrived was genuine.
    Receiver(current_signing_key=dev_server.current_key,
             next_signing_key=dev_server.next_key).verify(
        signature=record["signature"], body=body.decode(), url=hook)

    captured = {"Upstash-Signature": record["signature"], "Content-Type": record["contentType"],
                "Upstash-Message-Id": record["messageId"]}
    tampered = body.replace(b"42", b"43")
    assert tampered != body
    response = http_client.post(hook, content=tampered, headers=captured, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "bad_body"}
    # Even unchanged, the captured request is refused: its token id was already used.
    response = http_client.post(hook, content=body, headers=captured, timeout=10)
    assert response.status_code == 401
    assert response.json() == {"error": "replayed"}
    assert len(dev_server.received()) == 1  # neither replay reached the view


def test_the_request_log_never_shows_a_token_from_the_query(dev_server: DevServer):
    for name in ("qstash_token", "qstash%5Ftoken"):  # Django decodes the name: both work
        response = http_client.get(f"{dev_server.url}/v2/queues?{name}={dev_server.token}&x=1",
                                   timeout=10)
        assert response.status_code == 200
    wait_for(lambda: dev_server.log.read_text().count("/v2/queues?") >= 2,
             "the request lines in the dev server's log", dev_server.log)
    log = dev_server.log.read_text()
    # Printed once on purpose, in the lines to export; never again.
    assert log.count(dev_server.token) == 1 and f"QSTASH_TOKEN={dev_server.token}" in log
    assert "/v2/queues?qstash_token=REDACTED&x=1" in log
    assert "/v2/queues?qstash%5Ftoken=REDACTED&x=1" in log
