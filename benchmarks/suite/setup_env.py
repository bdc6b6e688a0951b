"""Install what the benchmarks need (Debian nginx, pip packages) and describe the machine."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import os
import platform
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import psycopg
import redis

from .common import PG_ADMIN_URL, PYTHON, REDIS_BASE, ROOT

PIP_PACKAGES = {"aiohttp": "aiohttp", "uvloop": "uvloop", "requests": "requests"}
VERSIONED = ["Django", "djangorestframework", "celery", "kombu", "billiard", "redis", "psycopg",
             "httpx", "httpcore", "granian", "gunicorn", "requests", "aiohttp", "uvloop", "py-spy"]


def ensure_nginx() -> None:
    if shutil.which("nginx") or os.path.exists("/usr/sbin/nginx"):
        return
    if os.geteuid() != 0:
        raise SystemExit("nginx is missing: run `apt-get install nginx-light` as root, or rerun "
                         "this command as root")
    print("installing Debian's nginx-light with apt-get ...", flush=True)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", "nginx-light"],
                   check=True, env=env, stdout=subprocess.DEVNULL)
    # The package may start the system-wide nginx on port 80; we only want our own instances.
    pid_file = Path("/run/nginx.pid")
    if pid_file.exists():
        subprocess.run(["/usr/sbin/nginx", "-s", "quit"], check=False)


def ensure_python_packages() -> None:
    missing = [pip for module, pip in PIP_PACKAGES.items()
               if importlib.util.find_spec(module) is None]
    if not (Path(PYTHON).parent / "py-spy").exists() and not shutil.which("py-spy"):
        missing.append("py-spy")
    if missing:
        print(f"pip install {' '.join(missing)} ...", flush=True)
        subprocess.run([PYTHON, "-m", "pip", "install", "--quiet", *missing], check=True)


def check_services() -> None:
    for name, port in (("PostgreSQL", 5432), ("Redis", 6379)):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=3).close()
        except OSError:
            raise SystemExit(f"{name} is not reachable on 127.0.0.1:{port}; start it first")


def versions() -> dict[str, str]:
    found = {"Python": platform.python_version()}
    for name in VERSIONED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    with psycopg.connect(PG_ADMIN_URL) as conn:
        found["PostgreSQL"] = conn.execute("SHOW server_version").fetchone()[0]
        for setting in ("synchronous_commit", "shared_buffers", "max_connections"):
            found[f"PostgreSQL {setting}"] = conn.execute(f"SHOW {setting}").fetchone()[0]
    found["Redis"] = redis.Redis.from_url(REDIS_BASE + "/0").info("server")["redis_version"]
    from .sink import nginx_version

    found["nginx"] = nginx_version()
    return found


def machine() -> dict[str, str]:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    mem_kb = int(next(line.split()[1] for line in Path("/proc/meminfo").read_text().splitlines()
                      if line.startswith("MemTotal")))
    os_name = next((line.split("=", 1)[1].strip('"') for line in
                    Path("/etc/os-release").read_text().splitlines()
                    if line.startswith("PRETTY_NAME")), platform.system())
    return {"CPU": f"{cpu}, {os.cpu_count()} cores", "memory": f"{mem_kb / 1024 / 1024:.1f} GiB",
            "OS": f"{os_name}, Linux {platform.release()}"}


def git_state() -> str:
    """The commit measured, and whether the work tree had uncommitted changes (read-only git)."""
    def git(*args: str) -> str:
        result = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
        return result.stdout.strip()

    commit = git("rev-parse", "--short", "HEAD") or "unknown"
    changed = [line[3:] for line in git("--no-optional-locks", "status", "--porcelain").splitlines()
               if line[3:].startswith("django_qstash/")]
    if changed:
        shown = ", ".join(sorted(changed)[:6]) + (", …" if len(changed) > 6 else "")
        return f"{commit} + uncommitted changes in {len(changed)} django_qstash paths ({shown})"
    return commit


def python_ok() -> bool:
    return sys.prefix != sys.base_prefix
