"""A loopback HTTP/1.1 destination that keeps the exact bytes of every request it reads.

It frames requests the way lenient servers do (``Transfer-Encoding: chunked`` wins over
``Content-Length``), keeps connections alive, and answers each request it parses with a body
naming that request. So a smuggled request shows up as a request of its own, and a stolen
response as a delivery whose recorded body names another request.
"""

from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass, field


@dataclass
class RawRequest:
    connection: int  # the n-th connection accepted, from 1
    head: bytes  # request line and header lines, exactly as received
    body: bytes  # as framed by the listener
    method: str
    path: str
    headers: list[tuple[str, str]]

    def values(self, name: str) -> list[str]:
        """Every value of the header ``name`` (case-insensitive), in the order received."""
        return [value for key, value in self.headers if key.lower() == name.lower()]


def answer_for(method: str, path: str) -> bytes:
    return f"answer to {method} {path}".encode()


@dataclass
class RawListener:
    server: socket.socket
    requests: list[RawRequest] = field(default_factory=list)
    received: dict[int, bytearray] = field(default_factory=dict)  # connection -> every byte
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    @property
    def url(self) -> str:
        host, port = self.server.getsockname()[:2]
        return f"http://{host}:{port}"

    def paths(self) -> list[str]:
        with self.lock:
            return [request.path for request in self.requests]

    def wait_for(self, count: int, timeout: float = 20) -> list[RawRequest]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.requests) >= count:
                    return list(self.requests)
            time.sleep(0.02)
        raise AssertionError(f"expected {count} requests, got {self.paths()}")

    def close(self) -> None:
        self.closed = True
        self.server.close()


def start_raw_listener() -> RawListener:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    listener = RawListener(server)
    threading.Thread(target=_accept, args=(listener,), daemon=True).start()
    return listener


def _accept(listener: RawListener) -> None:
    number = 0
    while not listener.closed:
        try:
            connection, _ = listener.server.accept()
        except OSError:
            return
        number += 1
        with listener.lock:
            listener.received[number] = bytearray()
        threading.Thread(target=_serve, args=(listener, connection, number), daemon=True).start()


class _Closed(Exception):
    pass


class _Reader:
    """Buffered reads from one connection, recording every byte that arrives."""

    def __init__(self, listener: RawListener, connection: socket.socket, number: int) -> None:
        self.listener, self.connection, self.number = listener, connection, number
        self.buffer = b""

    def _fill(self) -> None:
        data = self.connection.recv(65536)
        if not data:
            raise _Closed
        with self.listener.lock:
            self.listener.received[self.number] += data
        self.buffer += data

    def until(self, marker: bytes) -> bytes:
        while marker not in self.buffer:
            self._fill()
        found, _, self.buffer = self.buffer.partition(marker)
        return found + marker

    def exactly(self, size: int) -> bytes:
        while len(self.buffer) < size:
            self._fill()
        found, self.buffer = self.buffer[:size], self.buffer[size:]
        return found


def _serve(listener: RawListener, connection: socket.socket, number: int) -> None:
    reader = _Reader(listener, connection, number)
    connection.settimeout(30)
    try:
        while True:
            head = reader.until(b"\r\n\r\n")
            lines = head[:-4].decode("latin-1").split("\r\n")
            method, path = (lines[0].split(" ") + ["", ""])[:2]
            headers = [(name.strip(), value.strip()) for name, _, value in
                       (line.partition(":") for line in lines[1:])]
            request = RawRequest(number, head, b"", method, path, headers)
            request.body = _read_body(reader, request)
            with listener.lock:
                listener.requests.append(request)
            answer = answer_for(method, path)
            connection.sendall(b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n"
                               b"Content-Length: %d\r\n\r\n%s" % (len(answer), answer))
    except (_Closed, OSError, ValueError):
        pass
    finally:
        connection.close()


def _read_body(reader: _Reader, request: RawRequest) -> bytes:
    if any("chunked" in value.lower() for value in request.values("Transfer-Encoding")):
        chunks = []
        while size := int(reader.until(b"\r\n")[:-2].split(b";")[0], 16):
            chunks.append(reader.exactly(size))
            reader.exactly(2)
        while reader.until(b"\r\n") != b"\r\n":  # trailer fields, then the blank line
            pass
        return b"".join(chunks)
    lengths = request.values("Content-Length")
    return reader.exactly(int(lengths[0])) if lengths else b""
