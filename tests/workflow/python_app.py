"""Workflows written with the Python Workflow SDK (``upstash-workflow``), served on loopback.

The SDK's framework-free ``serve`` turns a request (body, headers, URL) into a response; a
threaded ``http.server`` on 127.0.0.1 hands it each request. The app records what its workflows
saw (per run id) and plays the third party of ``context.call`` on ``/third-party``.
"""

from __future__ import annotations

import json
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from qstash import QStash, Receiver
from upstash_workflow import serve
from upstash_workflow.workflow_types import _SyncRequest

from tests.support.sink import POLL_SECONDS

THIRD_PARTY = "/third-party"


class WorkflowApp:
    def __init__(self, qstash_url: str, token: str, current_key: str, next_key: str):
        # No client retries: a refused publish must show as the step's failure, not be hidden.
        self.client = QStash(token, base_url=qstash_url, retry=False)
        self.receiver = Receiver(current_signing_key=current_key, next_signing_key=next_key)
        self.handlers: dict[str, Callable] = {}
        self.seen: dict[str, list[dict]] = defaultdict(list)
        self.third_party: list[dict] = []
        self.lock = threading.Lock()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _handler_for(self))
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, args=(POLL_SECONDS,),
                                       daemon=True)
        self.thread.start()

    def workflow(self, path: str, **options):
        """Serve the decorated route function at ``path`` (``serve``'s options: retries,
        failure_function, …). The SDK reads no environment: everything is given here."""
        def register(route_function):
            self.handlers[path] = serve(route_function, qstash_client=self.client,
                                        receiver=self.receiver, env={}, **options)["handler"]
            return route_function
        return register

    def record(self, run_id: str, kind: str, **what) -> None:
        with self.lock:
            self.seen[run_id].append({"kind": kind, "at": time.time(), **what})

    def of(self, run_id: str, kind: str) -> list[dict]:
        with self.lock:
            return [entry for entry in self.seen[run_id] if entry["kind"] == kind]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _handler_for(app: WorkflowApp):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self._handle()

        def do_GET(self):
            self._handle()

        def _handle(self):
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            path = self.path.split("?")[0]
            if path == THIRD_PARTY:
                with app.lock:
                    app.third_party.append({"method": self.command, "path": self.path,
                                            "headers": {name.lower(): value for name, value
                                                        in self.headers.items()},
                                            "body": body.decode()})
                asked = json.loads(body or b"{}")
                self._answer(201, json.dumps({"answer": f"re: {asked.get('question')}"}),
                             {"Content-Type": "application/json",
                              "X-Answered-By": "third-party"})
                return
            handler = app.handlers.get(path)
            if handler is None:
                self._answer(404, "", {})
                return
            # self.headers looks names up case-insensitively, as the SDK expects.
            response = handler(_SyncRequest(body=body.decode(), headers=self.headers,
                                            method=self.command, url=f"{app.url}{self.path}"))
            self._answer(response.status, response.body, response.headers or {})

        def _answer(self, status: int, body: str, headers: dict) -> None:
            data = body.encode()
            try:
                self.send_response(status)
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the caller is gone (a killed worker): the server never sees this answer

        def log_message(self, format, *args):
            pass

    return Handler
