"""The qstash_outbox fixture: publish() and publish_json() captured instead of sent."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from django_qstash import client
from django_qstash.client import Outbox, OutgoingMessage, publish, publish_json
from django_qstash.exceptions import BadRequest

ROOT = Path(__file__).resolve().parents[2]


# No django_db mark: the outbox must never touch the database.
def test_publish_is_captured_with_its_options(qstash_outbox):
    message_id = publish(
        "https://example.com/hook", "hello", headers={"X-Tenant": "acme"}, method="put",
        delay=timedelta(minutes=2), retries=5, retry_delay="pow(2, retried) * 1000",
        timeout=30, callback="https://example.com/cb",
        failure_callback="https://example.com/failed", deduplication_id="order-1",
        label=["billing", "eu"])
    [message] = qstash_outbox
    assert isinstance(message, OutgoingMessage)
    assert message.message_id == message_id and message_id.startswith("msg_")
    assert message.destination == "https://example.com/hook"
    assert message.body == b"hello" and message.text == "hello"
    assert message.header("upstash-delay") == "120s"
    assert message.header("Upstash-Forward-X-Tenant") == "acme"
    options = message.options
    assert (options.method, options.delay_seconds, options.retries) == ("PUT", 120, 5)
    assert options.retry_delay == "pow(2, retried) * 1000" and options.timeout_seconds == 30
    assert options.callback.url == "https://example.com/cb"
    assert options.failure_callback.url == "https://example.com/failed"
    assert options.deduplication_id == "order-1" and options.labels == ["billing", "eu"]
    assert options.headers == {"X-Tenant": ["acme"]}
    assert message.queue is None and message.tenant is None


def test_publish_json_encodes_the_body_and_sets_the_content_type(qstash_outbox):
    when = (datetime.now(UTC) + timedelta(days=1)).replace(microsecond=0)
    publish_json("https://example.com/orders", {"total": Decimal("9.50"), "at": when},
                 not_before=when, content_based_deduplication=True, queue="orders")
    publish_json("https://example.com/x", [1],
                 headers={"content-type": "application/cloudevents+json"})
    first, second = qstash_outbox
    assert first.json() == {"total": "9.50", "at": when.isoformat().replace("+00:00", "Z")}
    assert first.header("Content-Type") == "application/json"
    assert first.options.not_before == int(when.timestamp())
    assert first.options.content_based_deduplication is True
    assert first.queue == "orders"
    assert second.options.headers == {"Content-Type": ["application/cloudevents+json"]}


def test_keyword_options_win_over_the_same_setting_in_headers(qstash_outbox):
    publish("https://example.com/a", headers={"Upstash-Retries": "1"}, retries=4)
    assert qstash_outbox[0].options.retries == 4


def test_url_group_names_and_tenants_are_recorded_not_resolved(qstash_outbox):
    assert isinstance(publish("team", b"\xff\x00", tenant="acme"), str)
    assert qstash_outbox[0].destination == "team" and qstash_outbox[0].tenant == "acme"
    assert qstash_outbox[0].body == b"\xff\x00"


@pytest.mark.parametrize("arguments", [
    {"destination": "ftp://example.com/x"},
    {"destination": "no spaces allowed"},
    {"delay": "soon"},
    {"retry_delay": "import os"},
    {"method": "TELEPORT"},
    {"callback": "not-a-url"},
    {"queue": "bad queue"},
    {"body": "text \ud800"},
    {"headers": {"X-Note": "v\ud800"}},
    {"label": "l\ud800"},
    {"destination": "https://example.com/\ud800"},
    {"destination": "group\ud800"},
    {"queue": "q\ud800"},
])
def test_the_outbox_rejects_what_the_api_would(qstash_outbox, arguments):
    arguments = {"destination": "https://example.com/x", **arguments}
    with pytest.raises(BadRequest):
        publish(**arguments)
    assert qstash_outbox == []


def test_the_fixture_is_the_backend_and_is_cleared_between_tests(qstash_outbox):
    assert client.get_backend() is qstash_outbox and qstash_outbox == []
    publish("https://example.com/x")
    qstash_outbox.clear()
    assert qstash_outbox == []


def test_use_backend_nests_and_restores():
    outer, inner = Outbox(), Outbox()
    assert client.set_backend(None) is None
    with client.use_backend(outer):
        with client.use_backend(inner):
            publish("https://example.com/inner")
        publish("https://example.com/outer")
    assert client.get_backend().__class__.__name__ == "LocalBackend"
    assert [m.destination for m in inner] == ["https://example.com/inner"]
    assert [m.destination for m in outer] == ["https://example.com/outer"]


def test_unknown_keyword_is_a_type_error(qstash_outbox):
    with pytest.raises(TypeError):
        publish_json("https://example.com/x", {}, delayy=3)


def test_plugin_and_client_import_nothing_heavy():
    """pytest loads the plugin before Django is configured; a receiver-only site has no Celery."""
    code = ("import sys, django_qstash.pytest_plugin, django_qstash.client\n"
            "heavy = [m for m in sys.modules if m.split('.')[0] in "
            "('celery', 'rest_framework', 'httpx', 'kombu') or m.startswith('django.db')]\n"
            "print(heavy)")
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=60, check=True)
    assert result.stdout.strip() == "[]"


def test_the_plugin_is_registered_as_an_entry_point():
    from importlib.metadata import entry_points

    found = {ep.name: ep.value for ep in entry_points(group="pytest11")}
    assert found.get("django_qstash") == "django_qstash.pytest_plugin"


def test_publish_without_the_outbox_does_not_import_celery(tmp_path):
    """The local path, outbox off: a real row in a database, and Celery never loaded."""
    code = f"""
import sys
import django
from django.conf import settings
settings.configure(
    INSTALLED_APPS=["django.contrib.contenttypes", "django.contrib.auth", "django_qstash"],
    DATABASES={{"default": {{"ENGINE": "django.db.backends.sqlite3",
                             "NAME": {str(tmp_path / "db.sqlite3")!r}}}}},
    USE_TZ=True, QSTASH={{"TRANSPORT": "inprocess"}})
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django_qstash.client import publish
from django_qstash.models import Message
message_id = publish("https://example.com/x", "hi", delay=60)
assert Message.objects.get(id=message_id).tenant.name == "default"
print(sorted(m for m in sys.modules if m.split(".")[0] in ("celery", "kombu")))
"""
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, text=True,
                            capture_output=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().replace("'", '"')) == []
