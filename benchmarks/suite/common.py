"""Shared helpers: process groups with guaranteed cleanup, /proc readings, statistics."""

from __future__ import annotations

import atexit
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
PG_ADMIN_URL = os.environ.get("QSTASH_BENCH_POSTGRES_URL",
                              "postgres://postgres@127.0.0.1:5432/postgres")
REDIS_BASE = os.environ.get("QSTASH_BENCH_REDIS_URL", "redis://127.0.0.1:6379")
# Databases of our own: the test suite uses 9 and flushes it, so stay away from it.
REDIS_SERVER_DB, REDIS_BASELINE_DB = 12, 13
# Set by run_all.py when it runs private servers (the default): their processes are ours.
PRIVATE_POSTMASTER = int(os.environ.get("QSTASH_BENCH_POSTMASTER_PID") or 0)
PRIVATE_REDIS = int(os.environ.get("QSTASH_BENCH_REDIS_PID") or 0)
WORK = Path(tempfile.mkdtemp(prefix="qstash-bench-"))
LOGS = WORK / "logs"
LOGS.mkdir()
TICKS = os.sysconf("SC_CLK_TCK")
PAGE_KB = os.sysconf("SC_PAGE_SIZE") // 1024

_cleanups: list = []


def on_cleanup(func) -> None:
    """Run ``func`` at the end of the run, even on failure or Ctrl-C (last registered first)."""
    _cleanups.append(func)


def cleanup_all() -> None:
    while _cleanups:
        func = _cleanups.pop()
        try:
            func()
        except Exception as exc:  # cleaning up must go on
            print(f"cleanup: {exc!r}", file=sys.stderr)


def _on_signal(signum, _frame) -> None:
    # Exit for sure: an exception raised here may land in a __del__ and be ignored there.
    cleanup_all()
    atexit._run_exitfuncs()  # e.g. the private PostgreSQL/Redis, stopped last
    os._exit(128 + signum)


atexit.register(cleanup_all)
for _sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
    signal.signal(_sig, _on_signal)


def start(name: str, argv: list[str], env: dict | None = None,
          cwd: Path = ROOT) -> subprocess.Popen:
    """A process leading its own group (so a stop takes its children), logging to LOGS."""
    log = open(LOGS / f"{name}.log", "ab")
    process = subprocess.Popen(argv, cwd=cwd, env=env, stdout=log, stderr=subprocess.STDOUT,
                               start_new_session=True)
    process.bench_name = name
    on_cleanup(lambda: stop(process))
    return process


def stop(process: subprocess.Popen, timeout: float = 10) -> None:
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout)
    except ProcessLookupError:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, interval: float = 0.1, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"timed out after {timeout:g}s waiting for {what}")


# --- /proc --------------------------------------------------------------------------------

def _stat_fields(pid: int) -> list[str]:
    raw = Path(f"/proc/{pid}/stat").read_text()
    return raw[raw.rindex(")") + 2:].split()


def descendants(pid: int) -> list[int]:
    """``pid`` and every process below it (the prefork pool of a Celery worker, ...)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                ppid = int(_stat_fields(int(entry))[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def rss_mb(pid: int) -> float:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return 0.0


def cpu_seconds(pid: int) -> float:
    try:
        fields = _stat_fields(pid)
        return (int(fields[11]) + int(fields[12])) / TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
    except OSError:
        return ""


def service_ids() -> dict[str, object]:
    """Who serves PostgreSQL and Redis right now: a change means someone restarted them."""
    redis = [PRIVATE_REDIS] if PRIVATE_REDIS else processes_named("redis-server")
    return {"PostgreSQL": postmaster_pid(), "Redis": tuple(sorted(redis))}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


class CpuMeter:
    """CPU used per role between ``begin`` and ``end``: where the time went.

    ``roles`` is a dict or a function returning one; it is read at both ends, so processes
    that appear in between (new connections, pool children) are counted too.
    """

    def __init__(self, roles) -> None:
        self.roles = roles if callable(roles) else (lambda: roles)
        self.start: dict[int, float] = {}
        self.wall = 0.0

    def _all_roles(self) -> dict[str, list[int]]:
        roles = dict(self.roles())
        ours = {pid for pids in roles.values() for pid in pids}
        if PRIVATE_POSTMASTER:  # our own cluster: its background processes are ours too
            roles["postgres background (postmaster, WAL writer, ...)"] = [
                pid for pid in descendants(PRIVATE_POSTMASTER) if pid not in ours]
        else:
            roles["postgres (other backends, background)"] = [
                pid for pid in processes_named("postgres") if pid not in ours]
        roles.setdefault("redis-server", [PRIVATE_REDIS] if PRIVATE_REDIS else
                         processes_named("redis-server"))
        roles.setdefault("nginx", processes_named("nginx"))
        return roles

    def begin(self) -> None:
        self.begin_roles = self._all_roles()
        self.start = {pid: cpu_seconds(pid) for pids in self.begin_roles.values() for pid in pids}
        self.start[-1] = sum(os.times()[:2])
        self.machine_both = machine_busy_seconds(both=True)
        self.postmaster = postmaster_pid()
        self.reaped = reaped_cpu_seconds(self.postmaster)
        self.wall = time.monotonic()

    def end(self) -> dict[str, float]:
        wall = time.monotonic() - self.wall
        roles = self._all_roles()
        used = {}
        for role, pids in roles.items():
            every = set(pids) | set(self.begin_roles.get(role, []))
            used[role] = sum(max(0.0, cpu_seconds(pid) - self.start.get(pid, 0.0)) for pid in every)
        used["benchmark client"] = sum(os.times()[:2]) - self.start[-1]
        # Backends that exited meanwhile (a connection per task...) are reaped by the postmaster,
        # so their CPU shows up in its children's times.
        postmaster = postmaster_pid()
        exited = ("postgres processes that ended (closed connections, autovacuum workers)"
                  if PRIVATE_POSTMASTER else "postgres backends that exited (any database)")
        used[exited] = (reaped_cpu_seconds(postmaster) - self.reaped
                        if postmaster == self.postmaster else 0.0)
        busy, softirq = (a - b for a, b in zip(machine_busy_seconds(both=True), self.machine_both))
        used["kernel softirq (loopback network)"] = softirq
        # Whatever else ran on the machine meanwhile (other users of this machine, kernel).
        used["everything else"] = max(0.0, busy - sum(used.values()))
        self.seconds = used
        return {role: seconds / wall * 100 for role, seconds in used.items()}  # % of one core

    def ms_per(self, count: int) -> float:
        """CPU milliseconds per message over this system's processes (client and kernel too),
        leaving out what other users of the machine did: steadier than rates on a busy box."""
        ours = sum(v for k, v in self.seconds.items() if k not in NOT_OURS)
        return ours / max(count, 1) * 1000


NOT_OURS = ("everything else", "postgres (other backends, background)",
            "postgres backends that exited (any database)",
            "CPU hog (excluded)")  # the contention scenario's stand-in for someone else's job


def reaped_cpu_seconds(pid: int | None) -> float:
    """CPU seconds of ``pid``'s children that have exited and been waited for."""
    if pid is None:
        return 0.0
    try:
        fields = _stat_fields(pid)
        return (int(fields[13]) + int(fields[14])) / TICKS
    except (OSError, ValueError, IndexError):
        return 0.0


def postmaster_pid() -> int | None:
    if PRIVATE_POSTMASTER:
        return PRIVATE_POSTMASTER if os.path.exists(f"/proc/{PRIVATE_POSTMASTER}") else None
    postgres = set(processes_named("postgres"))
    for pid in postgres:
        try:
            if int(_stat_fields(pid)[1]) not in postgres:
                return pid
        except (OSError, ValueError, IndexError):
            continue
    return None


def processes_named(name: str) -> list[int]:
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if Path(f"/proc/{entry}/comm").read_text().strip() == name:
                    found.append(int(entry))
            except OSError:
                continue
    return found


def machine_busy_seconds(both: bool = False):
    """CPU seconds all cores spent busy since boot (user+nice+system+irq+softirq, /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    busy = (fields[0] + fields[1] + fields[2] + fields[5] + fields[6]) / TICKS
    return (busy, fields[6] / TICKS) if both else busy


def format_cpu(percent: dict[str, float]) -> str:
    parts = [f"{role} {value:.0f}%" for role, value in
             sorted(percent.items(), key=lambda kv: -kv[1]) if value >= 0.5]
    return ", ".join(parts) + " (of one core; 200% = both cores)"


# --- statistics ---------------------------------------------------------------------------

def percentile(values: list[float], p: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    rank = (len(ordered) - 1) * p / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


def median(values: list[float]) -> float:
    return percentile(values, 50)


def fmt(value: float, digits: int = 0) -> str:
    if value != value:  # NaN
        return "n/a"
    return f"{value:,.{digits}f}"
