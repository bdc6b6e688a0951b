"""With the in-process transport and no dispatcher in the process, waiting work is announced."""

from __future__ import annotations

import logging

import pytest

from django_qstash.client import publish_json
from django_qstash.engine import dispatcher_presence
from django_qstash.engine.dispatcher import Dispatcher

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def fresh_process(monkeypatch):
    monkeypatch.setattr(dispatcher_presence, "_warned", False)


def warnings_in(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records
            if r.name == "django_qstash.engine.dispatcher" and r.levelno == logging.WARNING]


def test_a_delayed_message_without_a_dispatcher_warns_once(caplog):
    with caplog.at_level(logging.WARNING, logger="django_qstash"):
        first = publish_json("https://example.com/hook", {"a": 1}, delay="2s")
        publish_json("https://example.com/hook", {"a": 2}, delay="2s")
    [warning] = warnings_in(caplog)
    assert first in warning and "qstash_dev" in warning and "qstash_dispatcher" in warning


def test_no_warning_while_a_dispatcher_runs_here(caplog):
    dispatcher = Dispatcher(interval=0.05)
    dispatcher.start_thread()
    try:
        with caplog.at_level(logging.WARNING, logger="django_qstash"):
            publish_json("https://example.com/hook", {"a": 1}, delay="1h")
    finally:
        dispatcher.stop()
    assert warnings_in(caplog) == []


def test_no_warning_with_a_broker(settings, caplog):
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": "celery"}
    with caplog.at_level(logging.WARNING, logger="django_qstash"):
        dispatcher_presence.warn_if_nothing_dispatches("msg_x", "is to be retried")
    assert warnings_in(caplog) == []


def test_a_retry_without_a_dispatcher_warns(sink, caplog, qstash_runtime):
    from django_qstash.models import Message

    with caplog.at_level(logging.WARNING, logger="django_qstash"):
        # Due now: the in-process workers send it at once, and it fails into RETRY.
        message_id = publish_json(sink.url + "/status/500", {"a": 1}, retries=2)
        sink.wait_for(1, "/status/500")
        qstash_runtime.wait_idle(timeout=30)
    assert Message.objects.get(pk=message_id).status == Message.Status.PENDING
    [warning] = warnings_in(caplog)
    assert message_id in warning and "retried" in warning
