"""Several processes without a shared metrics directory: `manage.py check` says so."""

from __future__ import annotations

from django_qstash.checks import check_server_settings


def ids(settings, **qstash) -> list[str]:
    settings.QSTASH = {**settings.QSTASH, **qstash}
    return [message.id for message in check_server_settings()]


def test_celery_without_a_multiprocess_metrics_directory_warns(settings, monkeypatch):
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert ids(settings, TRANSPORT="celery") == ["django_qstash.W002"]
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/qstash-metrics")
    assert ids(settings, TRANSPORT="celery") == []


def test_one_process_needs_no_directory(settings, monkeypatch):
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    assert ids(settings, TRANSPORT="inprocess") == []
