"""Private PostgreSQL and Redis servers for one benchmark run, on free loopback ports.

The test suite's crash tests restart the machine's shared PostgreSQL and Redis, and other
users' tests flush them; a run on its own instances is disturbed by neither and disturbs no one.
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from pathlib import Path


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda p: int(p.split("/")[-2]))
    if found:
        return Path(found[-1])
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def available() -> bool:
    bindir = postgres_bindir()
    return bool(bindir and (bindir / "postgres").exists() and shutil.which("redis-server"))


class PrivateServices:
    def __init__(self) -> None:
        self.dir = Path(tempfile.mkdtemp(prefix="qstash-bench-services-"))
        self.processes: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}
        self.description = ""

    def start(self) -> "PrivateServices":
        try:
            pg_url, pg_pid, version = self._postgres()
            redis_url, redis_pid = self._redis()
        except BaseException:
            self.stop()
            raise
        self.env = {"QSTASH_BENCH_POSTGRES_URL": pg_url, "QSTASH_BENCH_REDIS_URL": redis_url,
                    "QSTASH_BENCH_POSTMASTER_PID": str(pg_pid),
                    "QSTASH_BENCH_REDIS_PID": str(redis_pid)}
        pg_port = pg_url.rsplit(":", 1)[1].split("/")[0]
        self.description = (
            f"a private PostgreSQL {version} cluster (fresh `initdb`, stock settings: fsync and "
            f"synchronous_commit on, shared_buffers 128MB) on 127.0.0.1:{pg_port} and a private "
            f"`redis-server` (no persistence) on {redis_url.split('//')[1]}, both on the same disk "
            "as the machine's own; the machine's shared servers are restarted by the test "
            "suite's crash tests")
        return self

    def _postgres(self) -> tuple[str, int, str]:
        bindir = postgres_bindir()
        data = self.dir / "pg"
        data.mkdir()
        user = None
        if os.geteuid() == 0:  # PostgreSQL refuses to run as root
            user = "postgres"
            entry = pwd.getpwnam(user)
            os.chown(self.dir, entry.pw_uid, entry.pw_gid)
            os.chown(data, entry.pw_uid, entry.pw_gid)
        subprocess.run([str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                        "--auth=trust", "-E", "UTF8", "--locale=C"], user=user, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        port = _free_port()
        log = open(self.dir / "postgres.log", "ab")
        process = subprocess.Popen(
            [str(bindir / "postgres"), "-D", str(data), "-p", str(port),
             "-c", "listen_addresses=127.0.0.1", "-c", f"unix_socket_directories={data}",
             "-c", "shared_buffers=128MB", "-c", "max_connections=100"],
            user=user, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        url = f"postgres://postgres@127.0.0.1:{port}/postgres"
        self._wait(lambda: self._pg_ready(url), "PostgreSQL")
        return url, process.pid, bindir.parent.name

    @staticmethod
    def _pg_ready(url: str) -> bool:
        import psycopg

        try:
            psycopg.connect(url, connect_timeout=2).close()
            return True
        except psycopg.OperationalError:
            return False

    def _redis(self) -> tuple[str, int]:
        port = _free_port()
        log = open(self.dir / "redis.log", "ab")
        process = subprocess.Popen(
            ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.dir)],
            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append(process)
        url = f"redis://127.0.0.1:{port}"

        def ready() -> bool:
            import redis

            try:
                return bool(redis.Redis.from_url(url + "/0").ping())
            except redis.RedisError:
                return False

        self._wait(ready, "Redis")
        return url, process.pid

    def _wait(self, ready, what: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if any(p.poll() is not None for p in self.processes):
                raise RuntimeError(f"private {what} exited; see {self.dir}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"private {what} did not start; see {self.dir}")

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                # SIGINT is PostgreSQL's fast shutdown; Redis exits on it too.
                os.killpg(process.pid, signal.SIGINT)
                try:
                    process.wait(20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(10)
        self.processes.clear()
        shutil.rmtree(self.dir, ignore_errors=True)
