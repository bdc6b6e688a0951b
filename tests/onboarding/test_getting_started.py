"""docs/getting-started.md, run as a new user would: every command, every snippet, in order.

Only what a test machine must change is substituted: the clone's path, free ports instead of
8080 and 8000, this suite's Redis database and a PostgreSQL database of its own. The fresh
virtualenv sees this suite's installed dependencies (a path in a .pth file), so installing
the package builds it from this checkout without downloading its dependencies again.
"""

from __future__ import annotations

import os
import re
import site
import sys
import uuid
from pathlib import Path

import httpx
import pytest
from qstash import QStash

from tests.support import http_client
from tests.support.services import POSTGRES_URL, REDIS_URL, require_services
from tests.support.stack import ROOT, free_port

from .walkthrough import Walkthrough, sections

DOC = ROOT / "docs" / "getting-started.md"
ADMIN_LINE = re.compile(r"# Admin: (\S+) +user: (\S+) +password: (\S+)")
ORDER_LINE = re.compile(r"order (\S+) paid \(message (msg_\S+), retried (\d+)\)")

pytestmark = pytest.mark.services


def clean_environment() -> dict[str, str]:
    """A user's shell: none of this suite's Django, QStash or Celery settings."""
    return {k: v for k, v in os.environ.items()
            if not k.startswith(("DJANGO_", "QSTASH_", "CELERY_", "PROMETHEUS_", "VIRTUAL_ENV",
                                 "PYTHONPATH"))}


def link_installed_dependencies(command: str, project: Path) -> None:
    if "-m venv .venv" not in command:
        return
    [site_packages] = (project / ".venv" / "lib").glob("python3*/site-packages")
    # A plain path line: the suite's packages become visible, its .pth files (such as the
    # editable install of the main checkout) are not run.
    (site_packages / "suite-dependencies.pth").write_text(site.getsitepackages()[0] + "\n")


def orders(log: Path) -> dict[str, tuple[str, int]]:
    return {m[1]: (m[2], int(m[3])) for m in ORDER_LINE.finditer(log.read_text(errors="replace"))}


def admin_page(url: str, username: str, password: str, path: str) -> str:
    with httpx.Client(base_url=url, timeout=10) as browser:
        browser.get("/admin/login/")
        response = browser.post("/admin/login/", data={
            "username": username, "password": password, "next": "/admin/",
            "csrfmiddlewaretoken": browser.cookies["csrftoken"]})
        assert response.status_code == 302, "the printed admin login was refused"
        page = browser.get(path)
        assert page.status_code == 200
        return page.text


def test_getting_started_runs_as_written(tmp_path: Path):
    require_services()
    import psycopg

    project = tmp_path / "project"
    project.mkdir()
    dev_port, prod_port = free_port(), free_port()
    database = f"qstash_onboarding_doc_{uuid.uuid4().hex[:6]}"
    walk = Walkthrough(project, clean_environment(), substitutions={
        "/path/to/django-qstash-server": str(ROOT), "python3.11 -m venv": f"{sys.executable} -m venv",
        "8080": str(dev_port), "8000": str(prod_port), "POSTGRES_DB=mysite": f"POSTGRES_DB={database}",
        "redis://127.0.0.1:6379/0": REDIS_URL, "/tmp/mysite-metrics": str(tmp_path / "metrics")})
    walk.after_command = lambda command: link_installed_dependencies(command, project)
    doc = sections(DOC.read_text())
    assert [heading[:2] for heading in doc] == ["1.", "2.", "3.", "4."]
    with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{database}"')
    try:
        for heading, blocks in doc.items():
            for block in blocks:
                walk.run(block)
                if block.tag == "long-running" and "qstash_dev" in block.body:
                    dev_server_started(walk, dev_port)
                if "qstash_create_token" in block.body:
                    walk.env["QSTASH_TOKEN"] = re.search(r"QSTASH_TOKEN=(\S+)",
                                                         walk.outputs[-1])[1]
                if block.tag == "long-running" and "granian" in block.body:
                    production_delivers(walk, prod_port)
            if heading.startswith("3."):
                development_delivered(walk)
                walk.stop()  # section 4 runs the production processes instead
    finally:
        walk.stop()
        with psycopg.connect(POSTGRES_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')


def dev_server_started(walk: Walkthrough, port: int) -> None:
    log = walk.log_of("qstash_dev")
    walk.wait_for(lambda: ADMIN_LINE.search(log.read_text()), "qstash_dev's banner")
    # "In a second shell, export QSTASH_URL and QSTASH_TOKEN from those lines."
    for name, value in re.findall(r"^(QSTASH_URL|QSTASH_TOKEN)=(\S+)$", log.read_text(), re.MULTILINE):
        walk.env[name] = value
    assert walk.env["QSTASH_URL"] == f"http://127.0.0.1:{port}"
    css = http_client.get(f"http://127.0.0.1:{port}/static/admin/css/base.css", timeout=10)
    assert css.status_code == 200


def development_delivered(walk: Walkthrough) -> None:
    log = walk.log_of("qstash_dev")
    found = walk.wait_for(lambda: (lambda o: o if {"1", "2", "3", "4"} <= set(o) else None)(
        orders(log)), "the four orders in the view's log", timeout=120)
    assert found["1"][1] == 0 and found["2"][1] == 0 and found["4"][1] == 0
    assert found["3"][1] == 1  # refused once by the view, accepted on the retry
    text = log.read_text()
    assert "invalid_signature" not in text and "not_configured" not in text
    # The delayed and the retried message went out through the dev server's dispatcher.
    events = http_client.get(walk.env["QSTASH_URL"] + "/v2/events", params={"state": "DELIVERED"},
                             headers={"Authorization": f"Bearer {walk.env['QSTASH_TOKEN']}"},
                             timeout=10).json()["events"]
    assert {found[n][0] for n in "1234"} <= {e["messageId"] for e in events}
    url, user, password = ADMIN_LINE.search(text).groups()
    base = url.removesuffix("/admin/")
    schedules = admin_page(base, user, password, "/admin/django_qstash/schedule/")
    assert "/hooks/paid" in schedules and "* * * * *" in schedules


def production_delivers(walk: Walkthrough, port: int) -> None:
    url = f"http://127.0.0.1:{port}"
    worker = walk.log_of("celery")
    walk.wait_for(lambda: "ready." in worker.read_text(errors="replace"), "the Celery worker")
    walk.wait_for(lambda: _answers(url), "granian")
    client = QStash(walk.env["QSTASH_TOKEN"], base_url=url)
    message = client.message.publish_json(url=f"{url}/hooks/paid", body={"id": "prod"},
                                          delay="1s")
    web = walk.log_of("granian")
    found = walk.wait_for(lambda: orders(web).get("prod"), "the view behind granian")
    assert found == (message.message_id, 0)
    assert http_client.get(f"{url}/static/admin/css/base.css", timeout=10).status_code == 200


def _answers(url: str) -> bool:
    try:
        return http_client.get(url + "/admin/login/", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False
