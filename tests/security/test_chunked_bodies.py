"""Chunked request bodies over real HTTP listeners: stored and delivered whole, or refused."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

from tests.receiver_e2e.test_dev_server_roundtrip import dev_server  # noqa: F401 (fixture)
from tests.support import http_client
from tests.support.stack import ROOT, free_port

LIMIT = 1024 * 1024  # MAX_BODY_BYTES of the example project


def chunked_post(base_url: str, path: str, token: str, chunks: list[bytes],
                 headers: dict | None = None) -> tuple[int, bytes]:
    """POST ``chunks`` with Transfer-Encoding: chunked (no Content-Length), as curl -H does."""
    parts = urlsplit(base_url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        try:
            connection.request("POST", path, body=iter(chunks), encode_chunked=True,
                               headers={"Authorization": f"Bearer {token}",
                                        "Transfer-Encoding": "chunked", **(headers or {})})
        except (BrokenPipeError, ConnectionResetError):
            # The server answered before the body ended (a 413) and closed its side: the
            # answer is read if it is still there, else the cut connection is the answer.
            pass
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def delivered_body(sink, path: str, timeout: float = 20) -> bytes:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if arrivals := sink.received(path):
            return arrivals[0].body
        time.sleep(0.05)
    raise AssertionError(f"nothing delivered to {path}")


def check_chunked_publishes(url: str, token: str, sink) -> None:
    status, body = chunked_post(url, f"/v2/publish/{sink.url}/chunked", token,
                                [b"hello", b" ", b"world"])
    assert status == 200, body
    assert delivered_body(sink, "/chunked") == b"hello world"

    try:
        status, body = chunked_post(url, f"/v2/publish/{sink.url}/big", token,
                                    [b"x" * 65536] * (2 * LIMIT // 65536))
    except (ConnectionError, http.client.HTTPException):
        pass  # refused mid-body: the connection was cut before the 413 could be read
    else:
        assert status == 413, body
        assert b"larger than" in body
    time.sleep(1)  # an accepted message would reach the loopback sink within this
    assert sink.received("/big") == []

    status, body = chunked_post(url, "/v2/batch", token,
                                [b'[{"destination": "', f"{sink.url}/batched".encode(),
                                 b'", "body": "from a chunked batch"}]'],
                                headers={"Content-Type": "application/json"})
    assert status == 200, body
    assert delivered_body(sink, "/batched") == b"from a chunked batch"


def test_dev_server_reads_chunked_bodies_whole(dev_server, sink):  # noqa: F811
    check_chunked_publishes(dev_server.url, dev_server.token, sink)


def raw_exchange(url: str, request: bytes) -> bytes:
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=30) as sock:
        sock.sendall(request)
        sock.shutdown(socket.SHUT_WR)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    return answer


def test_dev_server_refuses_malformed_chunks_and_keeps_connections_usable(
        dev_server, sink):  # noqa: F811
    auth = f"Authorization: Bearer {dev_server.token}\r\n".encode()
    answer = raw_exchange(dev_server.url,
                          b"POST /v2/publish/" + sink.url.encode() + b"/bad HTTP/1.1\r\n"
                          b"Host: localhost\r\n" + auth
                          + b"Transfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n")
    assert answer.startswith(b"HTTP/1.1 400"), answer[:200]
    # Two requests on one connection: the first chunked, the second right behind it.
    first = (b"POST /v2/publish/" + sink.url.encode() + b"/first HTTP/1.1\r\nHost: localhost\r\n" + auth
             + b"Transfer-Encoding: chunked\r\n\r\n3\r\none\r\n0\r\n\r\n")
    second = (b"POST /v2/publish/" + sink.url.encode() + b"/second HTTP/1.1\r\nHost: localhost\r\n" + auth
              + b"Content-Length: 3\r\nConnection: close\r\n\r\ntwo")
    answer = raw_exchange(dev_server.url, first + second)
    assert answer.count(b"HTTP/1.1 200") == 2, answer
    assert delivered_body(sink, "/first") == b"one"
    assert delivered_body(sink, "/second") == b"two"


@pytest.fixture
def granian_server(tmp_path: Path) -> Iterator[tuple[str, str]]:
    """granian serving the example project on a SQLite file, delivering in process."""
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "example_project.settings",
           "DATABASE_URL": f"sqlite:///{tmp_path / 'granian.sqlite3'}",
           "QSTASH_ALLOW_PRIVATE_DESTINATIONS": "true", "PYTHONUNBUFFERED": "1"}
    env.pop("CELERY_BROKER_URL", None)

    def manage(*args: str) -> str:
        return subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env,
                              check=True, capture_output=True, text=True, timeout=120).stdout

    manage("migrate", "--noinput")
    token = manage("qstash_create_token", "--quiet").strip()
    port = free_port()
    log = open(tmp_path / "granian.log", "wb")
    process = subprocess.Popen(
        [sys.executable, "-m", "granian", "--interface", "wsgi", "example_project.wsgi:application",
         "--host", "127.0.0.1", "--port", str(port), "--workers", "1"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                keys = http_client.get(url + "/v2/keys",
                                       headers={"Authorization": f"Bearer {token}"})
                if keys.status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.1)
        else:
            raise AssertionError((tmp_path / "granian.log").read_text(errors="replace")[-3000:])
        yield url, token
    finally:
        os.killpg(process.pid, 15)
        process.wait(10)
        log.close()


def test_granian_reads_chunked_bodies_whole(granian_server, sink):
    url, token = granian_server
    check_chunked_publishes(url, token, sink)
