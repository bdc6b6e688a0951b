"""The example project's receiver view, in process: signed requests pass, others get a 401."""

from __future__ import annotations

import base64
import json

import pytest

from django_qstash.core.signing import generate_signing_key
from django_qstash.testing import QStashTestClient, sign_request
from example_project.receiver import RECORD_FILE_VARIABLE

pytestmark = pytest.mark.urls("example_project.urls")


@pytest.fixture
def record_file(settings, tmp_path, monkeypatch):
    from django.core.cache import cache

    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": generate_signing_key(),
                       "NEXT_SIGNING_KEY": generate_signing_key()}
    cache.clear()
    path = tmp_path / "received.jsonl"
    monkeypatch.setenv(RECORD_FILE_VARIABLE, str(path))
    return path


def records(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_a_signed_request_is_accepted_and_recorded(record_file):
    response = QStashTestClient().post_signed(
        "/example/hook", {"hello": "world"}, content_type="application/json",
        HTTP_UPSTASH_MESSAGE_ID="msg_test")
    assert response.status_code == 200
    assert response.json() == {"ok": True, "messageId": "msg_test"}
    [entry] = records(record_file)
    assert entry["messageId"] == "msg_test" and entry["url"] == "http://testserver/example/hook"
    assert base64.b64decode(entry["bodyBase64"]) == b'{"hello": "world"}'
    assert entry["signature"].count(".") == 2


def test_unsigned_and_tampered_requests_never_reach_the_view(client, record_file):
    assert client.post("/example/hook", b"{}", content_type="application/json").status_code == 401
    headers = sign_request("http://testserver/example/hook", b'{"a": 1}')
    response = client.post("/example/hook", b'{"a": 2}', content_type="application/json",
                           **headers)
    assert response.status_code == 401 and response.json() == {"error": "bad_body"}
    assert records(record_file) == []


def test_without_a_record_file_it_only_logs(settings, monkeypatch, caplog):
    settings.QSTASH = {**settings.QSTASH, "CURRENT_SIGNING_KEY": generate_signing_key()}
    monkeypatch.delenv(RECORD_FILE_VARIABLE, raising=False)
    with caplog.at_level("INFO", logger="django_qstash.example"):
        response = QStashTestClient().post_signed("/example/hook", b"raw",
                                                  content_type="text/plain")
    assert response.status_code == 200
    assert "example receiver" in caplog.text
