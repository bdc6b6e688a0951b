"""The destination: Debian's nginx answering 200 to everything, counting via stub_status."""

from __future__ import annotations

import os
import shutil
import subprocess
import time

import httpx

from .common import WORK, free_port, start, stop, wait_for

CONFIG = """
worker_processes 1;
daemon off;
{user}
pid {dir}/nginx.pid;
error_log {dir}/error.log warn;
events {{ worker_connections 8192; multi_accept on; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 10000000;
    keepalive_timeout 120s;
    default_type text/plain;
    # Arrival time (ms resolution), the publisher's send time forwarded by the server, the path.
    log_format timed '$msec $http_x_sent_at $request_uri';
    server {{
        listen 127.0.0.1:{port} backlog=8192;
        location = /__status {{ stub_status; }}
        location /timed/ {{ access_log {dir}/timed.log timed; return 200 "ok"; }}
        location / {{ return 200 "ok"; }}
    }}
}}
"""


def nginx_binary() -> str:
    found = shutil.which("nginx") or (
        "/usr/sbin/nginx" if os.path.exists("/usr/sbin/nginx") else "")
    if not found:
        raise RuntimeError("nginx is not installed (run_all.py installs it with apt-get)")
    return found


def nginx_version() -> str:
    result = subprocess.run([nginx_binary(), "-v"], capture_output=True, text=True)
    return (result.stderr or result.stdout).strip().split("/")[-1]


class NginxSink:
    def __init__(self) -> None:
        self.dir = WORK / "nginx"
        self.dir.mkdir(exist_ok=True)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.polls = 0
        self.process = None
        self.client = httpx.Client(timeout=5)

    def start(self) -> "NginxSink":
        user = "user root;" if os.geteuid() == 0 else ""
        conf = self.dir / "nginx.conf"
        conf.write_text(CONFIG.format(dir=self.dir, port=self.port, user=user))
        self.process = start("nginx", [nginx_binary(), "-p", str(self.dir), "-c", str(conf)])
        wait_for(self._up, 10, what="nginx")
        return self

    def _up(self) -> bool:
        try:
            self.requests()
            return True
        except httpx.HTTPError:
            return False

    def requests(self) -> int:
        """Requests served so far, not counting our own status polls."""
        text = self.client.get(self.url + "/__status").text
        self.polls += 1
        return int(text.splitlines()[2].split()[2]) - self.polls

    def wait_count(self, target: int, timeout: float, interval: float = 0.05) -> tuple[int, float]:
        """Poll until ``target`` requests arrived (or timeout): (count, time.time() seen)."""
        deadline = time.monotonic() + timeout
        count = self.requests()
        while count < target and time.monotonic() < deadline:
            time.sleep(interval)
            count = self.requests()
        return count, time.time()

    def timed(self, prefix: str) -> list[tuple[float, float | None, str]]:
        """(arrival unix time, X-Sent-At or None, path) of every /timed/ request under prefix."""
        path = self.dir / "timed.log"
        rows = []
        if not path.exists():
            return rows
        for line in path.read_text().splitlines():
            parts = line.split(" ", 2)
            if len(parts) == 3 and parts[2].startswith(prefix):
                sent = float(parts[1]) if parts[1] not in ("-", "") else None
                rows.append((float(parts[0]), sent, parts[2]))
        return rows

    def timed_count(self, prefix: str) -> int:
        return len(self.timed(prefix))

    def stop(self) -> None:
        self.client.close()
        if self.process is not None:
            stop(self.process)
