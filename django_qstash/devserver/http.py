"""The dev server's HTTP listener: Django's runserver handler, with chunked bodies decoded."""

from __future__ import annotations

import io
import re
import socketserver
from collections.abc import Callable

from django.core.servers.basehttp import WSGIRequestHandler, WSGIServer

from django_qstash.conf import qstash_settings

CHUNK_SIZE_LINE = re.compile(rb"([0-9A-Fa-f]{1,16})[ \t]*(;[^\r\n]*)?\r?\n")
MAX_LINE = 65536
READ_SIZE = 64 * 1024
DRAIN_FACTOR = 16


class MalformedChunks(ValueError):
    pass


def read_chunked(stream, limit: int) -> tuple[bytes, bool]:
    """Decode a chunked body from ``stream``: (body, complete). Bytes past ``limit + 1`` are
    read and dropped (the application answers 413 to what it gets, and the client, still
    sending, reads that answer); past DRAIN_FACTOR times the limit reading stops, incomplete."""
    body, total = bytearray(), 0
    while True:
        match = CHUNK_SIZE_LINE.fullmatch(stream.readline(MAX_LINE + 1))
        if match is None:
            raise MalformedChunks("invalid chunk size line")
        size = int(match.group(1), 16)
        if size == 0:
            break
        total += size
        if total > DRAIN_FACTOR * limit:
            return bytes(body), False
        remaining = size
        while remaining:
            data = stream.read(min(remaining, READ_SIZE))
            if not data:
                raise MalformedChunks("chunk shorter than its declared size")
            remaining -= len(data)
            if len(body) <= limit:
                body += data[:limit + 1 - len(body)]
        if stream.readline(3) not in (b"\r\n", b"\n"):
            raise MalformedChunks("chunk longer than its declared size")
    for _ in range(100):  # trailer fields, ignored, up to the empty line
        line = stream.readline(MAX_LINE + 1)
        if line in (b"\r\n", b"\n"):
            return bytes(body), True
        if not line.endswith(b"\n"):
            break
    raise MalformedChunks("invalid trailer section")


class ChunkedWSGIRequestHandler(WSGIRequestHandler):
    """wsgiref hands the application the raw socket: a chunked body would reach it undecoded
    (and, without Content-Length, be read as empty). Decode it here, as production servers do,
    and pass it on with its length."""

    def parse_request(self) -> bool:
        if not super().parse_request():
            return False
        declared = ",".join(self.headers.get_all("Transfer-Encoding") or [])
        codings = [c.strip().lower() for c in declared.split(",") if c.strip()]
        if not codings:
            return True
        if codings != ["chunked"]:
            self.send_error(501, "only the chunked transfer coding is supported")
            return False
        try:
            body, complete = read_chunked(self.rfile, qstash_settings.MAX_BODY_BYTES)
        except MalformedChunks as exc:
            self.close_connection = True
            self.send_error(400, str(exc))
            return False
        if not complete:
            self.close_connection = True  # the rest of the body is still on the socket
        del self.headers["Transfer-Encoding"]
        del self.headers["Content-Length"]  # Transfer-Encoding overrides it (RFC 9112 6.3)
        self.headers["Content-Length"] = str(len(body))
        self.rfile = io.BytesIO(body)  # this request's body; the next one is on the socket
        return True

    def handle_one_request(self) -> None:
        connection_file = self.rfile
        try:
            super().handle_one_request()
        finally:
            self.rfile = connection_file


def serve(addr: str, port: int, application,
          on_bind: Callable[[int], None] | None = None) -> None:
    """Serve ``application`` on ``addr:port`` with a thread per connection, like runserver;
    ``on_bind`` is called with the port once it is bound (a busy port raises before it)."""
    server_class = type("WSGIServer", (socketserver.ThreadingMixIn, WSGIServer), {})
    httpd = server_class((addr, port), ChunkedWSGIRequestHandler, ipv6=":" in addr)
    httpd.daemon_threads = True
    httpd.set_app(application)
    if on_bind is not None:
        on_bind(httpd.server_port)
    httpd.serve_forever()
