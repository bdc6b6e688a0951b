"""System checks of the task backend: a base URL, and one the destination policy lets through."""

from __future__ import annotations

import pytest
from django_tasks import task_backends


def ids(settings, base_url: str, **qstash) -> list[str]:
    settings.QSTASH = {**settings.QSTASH, **qstash}
    settings.TASKS = {"default": {"BACKEND": "django_qstash.tasks_backend.QStashTaskBackend",
                                  "OPTIONS": {"BASE_URL": base_url}}}
    return [message.id for message in task_backends["default"].check()]


def test_no_base_url_is_an_error(settings):
    assert ids(settings, "") == ["django_qstash.E201"]


def test_public_url_is_the_default_base_url(settings):
    settings.QSTASH = {**settings.QSTASH, "PUBLIC_URL": "https://tasks.example.com/"}
    settings.TASKS = {"default": {"BACKEND": "django_qstash.tasks_backend.QStashTaskBackend"}}
    backend = task_backends["default"]
    assert backend.endpoint_url() == "https://tasks.example.com/qstash/tasks/default"
    assert list(backend.check()) == []


@pytest.mark.parametrize("base_url", ["http://10.0.0.5:8000", "http://localhost:8000",
                                      "http://[::1]:8000"])
def test_a_private_base_url_the_policy_refuses_is_a_warning(settings, base_url):
    assert ids(settings, base_url, ALLOW_PRIVATE_DESTINATIONS=False) == ["django_qstash.W201"]


def test_allowing_the_base_url_host_silences_the_warning(settings):
    assert ids(settings, "http://10.0.0.5:8000", ALLOW_PRIVATE_DESTINATIONS=False,
               ALLOWED_DESTINATIONS=["10.0.0.5"]) == []
    assert ids(settings, "http://web:8000", ALLOW_PRIVATE_DESTINATIONS=False) == []


def test_unknown_options_are_refused(settings):
    from django.core.exceptions import ImproperlyConfigured

    settings.TASKS = {"default": {"BACKEND": "django_qstash.tasks_backend.QStashTaskBackend",
                                  "OPTIONS": {"BASE_URL": "http://x", "RETRYS": 3}}}
    with pytest.raises(ImproperlyConfigured, match="RETRYS"):
        task_backends["default"]  # noqa: B018


def test_the_endpoint_url_is_the_same_in_a_request_under_a_mount_prefix(settings):
    from django.urls import set_script_prefix

    settings.TASKS = {"default": {"BACKEND": "django_qstash.tasks_backend.QStashTaskBackend",
                                  "OPTIONS": {"BASE_URL": "https://example.com/app"}}}
    backend = task_backends["default"]
    outside = backend.endpoint_url()
    set_script_prefix("/app/")
    try:
        assert backend.endpoint_url() == outside == "https://example.com/app/qstash/tasks/default"
    finally:
        set_script_prefix("/")
