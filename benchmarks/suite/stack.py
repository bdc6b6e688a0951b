"""This server: production stack (PostgreSQL, Redis, Celery, dispatcher, granian) and dev mode."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import time
import uuid

import httpx
import psycopg
import redis

from .common import (
    PG_ADMIN_URL,
    PYTHON,
    REDIS_BASE,
    REDIS_SERVER_DB,
    ROOT,
    WORK,
    descendants,
    free_port,
    on_cleanup,
    start,
    stop,
    wait_for,
)

BROKER = f"{REDIS_BASE}/{REDIS_SERVER_DB}"
PG_BASE = PG_ADMIN_URL.rsplit("/", 1)[0]
DB_COUNTERS = {"connections opened": "sessions", "commits": "xact_commit",
               "rows inserted": "tup_inserted", "rows updated": "tup_updated",
               "rows deleted": "tup_deleted", "rows fetched by index scans": "tup_fetched",
               "rows returned by scans": "tup_returned"}


def per_message(before: dict, after: dict, count: int) -> str:
    """PostgreSQL work per message between two ``db_counters`` readings, as markdown."""
    parts = [f"{name} {(after[name] - before[name]) / max(count, 1):.2f}" for name in before]
    return ("PostgreSQL work per message (this database, pg_stat_database, dispatcher ticks and "
            "the benchmark's own polling included): " + ", ".join(parts) + ".")


DELIVERED_SQL = "SELECT count(*) FROM django_qstash_message WHERE status = 'delivered'"


def clean_env(**extra: str) -> dict:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("QSTASH_", "DATABASE_URL", "CELERY_", "DJANGO_"))}
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", PYTHONUNBUFFERED="1", **extra)
    # BENCH_QSTASH_X=... reaches the stack as QSTASH_X=... (to try a setting side by side).
    env.update({k[len("BENCH_"):]: v for k, v in os.environ.items()
                if k.startswith("BENCH_QSTASH_")})
    return env


def drop_database(name: str, attempts: int = 15) -> None:
    """Drop ``name``; retried for a while in case PostgreSQL is restarting under us."""
    for attempt in range(attempts):
        try:
            with psycopg.connect(PG_ADMIN_URL, autocommit=True, connect_timeout=5) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
            return
        except psycopg.OperationalError:
            if attempt == attempts - 1:
                raise
            time.sleep(2)


def manage(env: dict, *args: str) -> str:
    result = subprocess.run([PYTHON, "manage.py", *args], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=300)
    if result.returncode:
        raise RuntimeError(f"manage.py {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    return result.stdout


class Template:
    """One migrated database with a token; every stack starts from a copy of it (fast, fresh)."""

    def __init__(self) -> None:
        self.name = f"qstash_bm_tpl_{uuid.uuid4().hex[:8]}"
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.name}"')
        on_cleanup(lambda: drop_database(self.name))
        env = clean_env(DATABASE_URL=f"{PG_BASE}/{self.name}", CELERY_BROKER_URL=BROKER)
        manage(env, "migrate", "--noinput")
        self.token = manage(env, "qstash_create_token", "--quiet").strip()


def web_command(server: str, port: int, workers: int, threads: int) -> list[str]:
    """The WSGI server running ``example_project.wsgi``: granian (the README's) or gunicorn."""
    if server == "gunicorn":
        return [PYTHON, "-m", "gunicorn", "example_project.wsgi", "-b", f"127.0.0.1:{port}",
                "-w", str(workers), "-k", "gthread", "--threads", str(threads),
                "--keep-alive", "75", "--backlog", "4096"]
    return [PYTHON, "-m", "granian", "--interface", "wsgi", "example_project.wsgi:application",
            "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers),
            "--blocking-threads", str(threads), "--backlog", "4096", "--log-level", "warning"]


def web_settings(server: str, workers: int, threads: int) -> str:
    if server == "gunicorn":
        return f"gunicorn `-w {workers} -k gthread --threads {threads}`"
    return f"granian `--interface wsgi --workers {workers} --blocking-threads {threads}`"


class ProdStack:
    """Web server + Celery worker(s) `-Q qstash` + dispatcher(s), on a fresh database copy."""

    def __init__(self, template: Template, *, web_workers: int = 2, web_threads: int = 4,
                 web_server: str = os.environ.get("BENCH_WEB_SERVER", "granian"),
                 celery_workers: int = int(os.environ.get("BENCH_CELERY_WORKERS", "1")),
                 celery_concurrency: int = int(os.environ.get("BENCH_CELERY_CONCURRENCY", "4")),
                 celery_pool: str = os.environ.get("BENCH_CELERY_POOL", "prefork"),
                 dispatchers: int = 1):
        self.template, self.token = template, template.token
        self.database = f"qstash_bm_{uuid.uuid4().hex[:8]}"
        self.web_server = web_server
        self.web_workers, self.web_threads = web_workers, web_threads
        self.celery_workers, self.celery_concurrency = celery_workers, celery_concurrency
        self.celery_pool = celery_pool
        self.dispatchers = dispatchers
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.processes: dict[str, subprocess.Popen] = {}
        self.db_url = f"{PG_BASE}/{self.database}"
        self._conn = None

    @property
    def settings(self) -> str:
        return (f"{web_settings(self.web_server, self.web_workers, self.web_threads)}, "
                f"{self.celery_workers} × `celery -A example_project worker -Q qstash "
                f"-P {self.celery_pool} -c {self.celery_concurrency}`, {self.dispatchers} × "
                f"`manage.py qstash_dispatcher` (default interval)")

    def start(self) -> "ProdStack":
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{self.database}" TEMPLATE "{self.template.name}"')
        on_cleanup(lambda: drop_database(self.database))
        redis.Redis.from_url(BROKER).flushdb()
        env = clean_env(DATABASE_URL=self.db_url, CELERY_BROKER_URL=BROKER,
                        QSTASH_ALLOW_PRIVATE_DESTINATIONS="true")
        self.processes["web"] = start(self.web_server, web_command(
            self.web_server, self.port, self.web_workers, self.web_threads), env=env)
        for index in range(self.celery_workers):
            self.processes[f"worker{index + 1}"] = start(f"celery-worker{index + 1}", [
                PYTHON, "-m", "celery", "-A", "example_project", "worker", "-Q", "qstash",
                "-P", self.celery_pool, "-c", str(self.celery_concurrency),
                "-n", f"bench{index + 1}-{self.port}@%h",
                "--without-gossip", "--without-mingle", "-l", "WARNING"], env=env)
        for index in range(self.dispatchers):
            self.processes[f"dispatcher{index + 1}"] = start(
                f"dispatcher{index + 1}", [PYTHON, "manage.py", "qstash_dispatcher"], env=env)
        wait_for(self._up, 60, 0.2, what="the production stack (see logs)")
        return self

    def _up(self) -> bool:
        for name, process in self.processes.items():
            if process.poll() is not None:
                raise RuntimeError(f"{name} exited with {process.returncode}; see logs")
        try:
            return httpx.get(self.url + "/v2/keys", headers=self.auth).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def delivered(self) -> int:
        if self._conn is None:
            self._conn = psycopg.connect(self.db_url, autocommit=True)
        return self._conn.execute(DELIVERED_SQL).fetchone()[0]

    def roles(self) -> dict[str, list[int]]:
        """Process ids by role, Celery prefork children and gunicorn workers included."""
        roles = {"web server": descendants(self.processes["web"].pid)}
        roles["celery workers"] = [pid for name, p in self.processes.items()
                                   if name.startswith("worker") for pid in descendants(p.pid)]
        roles["dispatcher"] = [pid for name, p in self.processes.items()
                               if name.startswith("dispatcher") for pid in descendants(p.pid)]
        roles["postgres backends"] = self.backend_pids()
        return roles

    def backend_pids(self) -> list[int]:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            rows = conn.execute("SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> "
                                "pg_backend_pid()", [self.database]).fetchall()
        return [row[0] for row in rows]

    def db_counters(self) -> dict[str, int]:
        """PostgreSQL's cumulative statistics for this stack's database."""
        time.sleep(1.2)  # backends report their statistics at most once a second
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            row = conn.execute(f"SELECT {', '.join(DB_COUNTERS.values())} FROM pg_stat_database "
                               "WHERE datname = %s", [self.database]).fetchone()
        return dict(zip(DB_COUNTERS, row))

    def stop(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        for process in self.processes.values():
            stop(process)
        drop_database(self.database)
        redis.Redis.from_url(BROKER).flushdb()


class DevServer:
    """`manage.py qstash_dev --port P` on a fresh SQLite file, token pinned in QSTASH_TOKEN."""

    def __init__(self) -> None:
        self.dir = WORK / f"dev-{uuid.uuid4().hex[:6]}"
        self.dir.mkdir()
        self.db_path = self.dir / "dev.sqlite3"
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token = "qst_bench_" + uuid.uuid4().hex
        self.process = None
        self.settings = "`python manage.py qstash_dev --port P` (SQLite file, in-process threads)"

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}

    def start(self) -> "DevServer":
        env = clean_env(DATABASE_URL=f"sqlite:///{self.db_path}", QSTASH_TOKEN=self.token)
        self.process = start("qstash_dev", [PYTHON, "manage.py", "qstash_dev", "--port",
                                            str(self.port)], env=env)
        wait_for(self._up, 120, 0.2, what="qstash_dev")
        return self

    def _up(self) -> bool:
        if self.process.poll() is not None:
            raise RuntimeError(f"qstash_dev exited with {self.process.returncode}; see logs")
        try:
            return httpx.get(self.url + "/v2/keys", headers=self.auth).status_code == 200
        except httpx.HTTPError:
            return False

    def delivered(self) -> int:
        for _ in range(50):
            try:
                with sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=5) as conn:
                    return conn.execute(DELIVERED_SQL).fetchone()[0]
            except sqlite3.OperationalError:
                time.sleep(0.05)
        raise RuntimeError("could not read the dev server's SQLite database")

    def roles(self) -> dict[str, list[int]]:
        return {"qstash_dev": descendants(self.process.pid)}

    def stop(self) -> None:
        if self.process is not None:
            stop(self.process)
