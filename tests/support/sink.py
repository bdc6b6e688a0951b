"""A real HTTP destination on loopback that records every request and answers as told."""

from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

# How often the serving thread looks for a shutdown request.
POLL_SECONDS = 0.02


@dataclass
class Arrival:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Sink:
    """Paths choose the answer: ``/status/404``, ``/sleep/2.5`` (seconds), ``/flaky/2`` (fails
    the first 2 arrivals of each message id, then 200), ``/slowonce/30`` (the first arrival of
    each message id hangs), anything else 200."""

    server: ThreadingHTTPServer
    arrivals: list[Arrival] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    response_headers: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host}:{port}"

    def received(self, path_prefix: str = "") -> list[Arrival]:
        with self.lock:
            return [a for a in self.arrivals if a.path.startswith(path_prefix)]

    def wait_for(self, count: int, path_prefix: str = "", timeout: float = 20) -> list[Arrival]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            got = self.received(path_prefix)
            if len(got) >= count:
                return got
            time.sleep(0.02)
        raise AssertionError(
            f"expected {count} arrivals under {path_prefix!r}, got {len(self.received(path_prefix))}")

    def arrivals_json(self, path_prefix: str = "") -> bytes:
        """What ``GET /_arrivals?prefix=/x`` answers: the arrivals for tests in other languages."""
        return json.dumps([
            {"method": a.method, "path": a.path, "headers": a.headers, "at": a.at,
             "bodyBase64": base64.b64encode(a.body).decode()}
            for a in self.received(path_prefix)]).encode()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_sink(host: str = "127.0.0.1") -> Sink:
    """A sink listening on ``host`` (any 127.x.y.z address is loopback on Linux)."""
    holder: dict[str, Sink] = {}

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args) -> None:  # keep test output quiet
            pass

        def _handle(self) -> None:
            sink = holder["sink"]
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            if urlsplit(self.path).path == "/_arrivals":  # a query, not an arrival
                prefix = parse_qs(urlsplit(self.path).query).get("prefix", [""])[0]
                payload = sink.arrivals_json(prefix)
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)
                return
            arrival = Arrival(self.command, self.path, dict(self.headers.items()), body,
                              time.time())
            with sink.lock:
                sink.arrivals.append(arrival)
                seen = sum(1 for a in sink.arrivals
                           if a.path == self.path and a.headers.get("Upstash-Message-Id")
                           == arrival.headers.get("Upstash-Message-Id"))
            status, payload = _answer(urlsplit(self.path), seen)
            self.send_response(status)
            for name, value in sink.response_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Type", "text/plain")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

    class Server(ThreadingHTTPServer):
        # socketserver's default backlog of 5 drops the SYNs of a burst of new connections,
        # which then arrive only after TCP's 1 s, 3 s ... retransmits.
        request_queue_size = 1024

    server = Server((host, 0), Handler)
    server.daemon_threads = True
    sink = Sink(server)
    holder["sink"] = sink
    # Polled every 20 ms rather than 0.5 s: close() waits for the poll, after every test.
    threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), daemon=True).start()
    return sink


def _answer(url, seen: int) -> tuple[int, bytes]:
    parts = [p for p in url.path.split("/") if p]
    if len(parts) >= 2 and parts[0] == "status":
        status = int(parts[1])
        return status, f"{status} answer".encode()
    if len(parts) >= 2 and parts[0] == "sleep":
        time.sleep(float(parts[1]))
    if len(parts) >= 2 and parts[0] == "slowonce" and seen == 1:
        time.sleep(float(parts[1]))
    if len(parts) >= 2 and parts[0] == "flaky" and seen <= int(parts[1]):
        return 500, b"flaky failure"
    query = parse_qs(url.query)
    if "status" in query:
        return int(query["status"][0]), b"as asked"
    return 200, b"ok"
