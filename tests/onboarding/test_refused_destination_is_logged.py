"""A destination refused by the private-address policy is logged, not only recorded."""

from __future__ import annotations

import logging

import pytest

from tests.e2e.helpers import publish, wait_for_state

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_refused_loopback_destination_logs_a_warning(qstash, sink, settings, caplog):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": False,
                       "ALLOWED_DESTINATIONS": []}
    port = sink.server.server_address[1]
    with caplog.at_level(logging.WARNING, logger="django_qstash"):
        message_id = publish(qstash, f"http://127.0.0.1:{port}/mine", "x")
        wait_for_state(qstash, message_id, "FAILED")
    [record] = [r for r in caplog.records if r.name == "django_qstash.delivery.attempt"]
    assert record.levelno == logging.WARNING
    text = record.getMessage()
    assert message_id in text and f"http://127.0.0.1:{port}/mine" in text
    assert "ALLOW_PRIVATE_DESTINATIONS" in text   # the way out, for development
    assert sink.received("/mine") == []
