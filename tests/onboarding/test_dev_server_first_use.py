"""qstash_dev as a new user meets it: a styled admin with a login, and a banner only once bound."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.receiver_e2e.test_dev_server_roundtrip import wait_for
from tests.support import http_client
from tests.support.stack import ROOT, free_port

ADMIN_LINE = re.compile(r"# Admin: (\S+) +user: (\S+) +password: (\S+)")


def dev_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "QSTASH_"))}
    env.update(DJANGO_SETTINGS_MODULE="example_project.settings", PYTHONUNBUFFERED="1",
               DATABASE_URL=f"sqlite:///{tmp_path / 'dev.sqlite3'}", **extra)
    env.pop("CELERY_BROKER_URL", None)
    return env


class Running:
    def __init__(self, tmp_path: Path, port: int, *args: str, **env: str) -> None:
        self.url = f"http://127.0.0.1:{port}"
        self.log = tmp_path / f"dev-{port}-{len(list(tmp_path.glob('dev-*.log')))}.log"
        with open(self.log, "wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "manage.py", "qstash_dev", "--port", str(port),
                 "--state-file", str(tmp_path / "state.json"), *args],
                cwd=ROOT, env=dev_env(tmp_path, **env), stdout=log, stderr=subprocess.STDOUT,
                start_new_session=True)

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self) -> None:
        wait_for(lambda: self.process.poll() is not None or self._answers(), "the dev server",
                 self.log)
        assert self.process.poll() is None, self.output()

    def _answers(self) -> bool:
        try:
            return http_client.get(self.url + "/admin/login/", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)


@pytest.fixture
def start(tmp_path: Path) -> Iterator:
    started: list[Running] = []

    def starter(*args: str, port: int | None = None, **env: str) -> Running:
        server = Running(tmp_path, port or free_port(), *args, **env)
        started.append(server)
        return server

    yield starter
    for server in started:
        server.stop()


@pytest.mark.parametrize("debug", ["false", "true"])
def test_the_admin_is_styled(start, debug):
    server = start(DJANGO_DEBUG=debug)
    server.wait_ready()
    response = http_client.get(server.url + "/static/admin/css/base.css", timeout=10)
    assert response.status_code == 200 and "text/css" in response.headers["content-type"]
    assert b"--body-bg" in response.content or b"body" in response.content


def admin_login(url: str, username: str, password: str) -> bool:
    with httpx.Client(base_url=url, timeout=10) as browser:
        browser.get("/admin/login/")
        response = browser.post("/admin/login/?next=/admin/", data={
            "username": username, "password": password,
            "csrfmiddlewaretoken": browser.cookies["csrftoken"], "next": "/admin/"},
            headers={"Referer": url + "/admin/login/"})
        return response.status_code == 302 and response.headers["location"] == "/admin/"


def test_admin_login_is_made_on_request_and_remembered(start):
    first = start()
    first.wait_ready()
    assert "start with --admin for a login" in first.output()
    first.stop()

    second = start("--admin")
    second.wait_ready()
    url, user, password = ADMIN_LINE.search(second.output()).groups()
    assert url == second.url + "/admin/"
    assert admin_login(second.url, user, password)
    assert not admin_login(second.url, user, password + "x")
    second.stop()

    third = start()   # without the flag: the remembered login, unchanged
    third.wait_ready()
    assert ADMIN_LINE.search(third.output()).groups()[1:] == (user, password)
    assert admin_login(third.url, user, password)


def test_a_busy_port_fails_before_any_banner(start):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = start(port=taken.getsockname()[1])
        assert server.process.wait(60) != 0
    output = server.output()
    assert "cannot listen on" in output
    assert "server ready" not in output and "QSTASH_TOKEN" not in output


PRODUCTION_STATIC_SCRIPT = """
import django
django.setup()
from django.test import Client
response = Client().get("/static/admin/css/base.css")
print(response.status_code, response.get("Content-Type"))
"""


def test_production_web_processes_serve_the_admins_css_too(tmp_path):
    """No qstash_dev, DEBUG off, no collectstatic: WhiteNoise serves it from the apps."""
    result = subprocess.run([sys.executable, "-c", PRODUCTION_STATIC_SCRIPT], cwd=ROOT,
                            env=dev_env(tmp_path), capture_output=True, text=True, timeout=120)
    assert result.stdout.startswith("200 text/css"), result.stdout + result.stderr
    assert "No directory at" not in result.stderr
