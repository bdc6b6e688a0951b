"""`manage.py check` on the QSTASH settings: every key typed and ranged, unknown keys named."""

from __future__ import annotations

from types import ModuleType

import pytest
from django.contrib import admin
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.urls import clear_url_caches, include, path

from django_qstash import checks
from django_qstash.checks import (
    RECEIVER_KEYS,
    RULES,
    check_api_error_handler,
    check_server_settings,
)
from django_qstash.conf import DEFAULTS

# A value of the wrong type for each kind of setting.
WRONG_TYPE = {
    checks.POSITIVE_INTEGER: "20", checks.COUNT: 2.5, checks.INTERVAL: "0.2",
    checks.SECONDS: "30s", checks.BOOLEAN: "yes", checks.TEXT: 5, checks.NAME: ["qstash"],
    checks.RETENTION: "7d", checks.HTTP_URL: 8080, checks.HOSTS_AND_NETWORKS: "10.0.0.0/8",
    checks.TRANSPORT: "rabbitmq", checks.SHARE: "8",
}


def found(settings, **qstash) -> list[tuple[str, str]]:
    settings.QSTASH = {**settings.QSTASH, **qstash}
    return [(message.id, message.msg) for message in check_server_settings()]


def test_every_setting_has_a_check():
    assert set(RULES) | RECEIVER_KEYS == set(DEFAULTS)
    assert not set(RULES) & RECEIVER_KEYS


def test_the_defaults_pass(settings):
    settings.QSTASH = {}
    assert check_server_settings() == []


@pytest.mark.parametrize("name", sorted(RULES))
def test_a_wrongly_typed_setting_is_an_error_naming_it(settings, name):
    rule = RULES[name]
    value = WRONG_TYPE[rule]
    assert found(settings, **{name: value}) == [
        (rule.id, f"QSTASH[{name!r}] must be {rule.expected}, got {value!r}")]


def test_a_wrongly_typed_setting_fails_manage_py_check_instead_of_crashing(settings):
    settings.QSTASH = {**settings.QSTASH, "MAX_RETRIES": "20", "DEFAULT_TIMEOUT_SECONDS": "60"}
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "django_qstash.E002" in str(raised.value)
    assert "QSTASH['MAX_RETRIES'] must be a positive integer, got '20'" in str(raised.value)


@pytest.mark.parametrize(("qstash", "expected"), [
    ({"MAX_RETRIES": 0}, ["django_qstash.E002"]),
    ({"MAX_BODY_BYTES": True}, ["django_qstash.E002"]),  # a bool is not a size
    ({"DEFAULT_RETRIES": -1}, ["django_qstash.E005"]),
    ({"DEFAULT_RETRIES": 25}, ["django_qstash.E003"]),  # above MAX_RETRIES (20)
    ({"DEFAULT_RETRIES": 25, "MAX_RETRIES": 30}, []),
    ({"DEFAULT_TIMEOUT_SECONDS": 3 * 60 * 60}, ["django_qstash.E004"]),
    ({"DISPATCH_INTERVAL_SECONDS": 0}, ["django_qstash.E006"]),
    ({"DISPATCH_INTERVAL_SECONDS": float("nan")}, ["django_qstash.E006"]),
    ({"LEASE_GRACE_SECONDS": -1}, ["django_qstash.E007"]),
    ({"CLAIM_AHEAD_SECONDS": 0.5, "PURGE_INTERVAL_SECONDS": 0}, []),
    ({"MESSAGE_RETENTION_SECONDS": None, "DLQ_RETENTION_SECONDS": 0}, []),
    ({"EVENT_RETENTION_SECONDS": -60}, ["django_qstash.E010"]),
    ({"CELERY_QUEUE": " "}, ["django_qstash.E009"]),
    ({"CLIENT_URL": "qstash.example.com"}, ["django_qstash.E011"]),
    ({"PUBLIC_URL": "https://qstash.example.com", "CLIENT_URL": ""}, []),
    ({"ALLOWED_DESTINATIONS": ["hooks.internal", ""]}, ["django_qstash.E012"]),
    ({"ALLOWED_DESTINATIONS": ("*.svc.local", "10.0.0.0/8")}, []),
    ({"DAILY_MESSAGE_QUOTA": 1000, "RATE_LIMIT_CACHE_ALIAS": "limits"},
     ["django_qstash.E014"]),
    ({"DAILY_MESSAGE_QUOTA": 0, "RATE_LIMIT_CACHE_ALIAS": "limits"}, []),
])
def test_ranges_and_relations(settings, qstash, expected):
    assert [message_id for message_id, _ in found(settings, **qstash)] == expected


def test_an_unknown_key_is_a_warning_with_the_closest_setting(settings):
    assert found(settings, MAX_RETRY=5, SOMETHING_ELSE=1) == [
        ("django_qstash.W001", "QSTASH['MAX_RETRY'] is not a setting of django_qstash and "
                               "is ignored"),
        ("django_qstash.W001", "QSTASH['SOMETHING_ELSE'] is not a setting of django_qstash "
                               "and is ignored")]
    [close, far] = [m for m in check_server_settings() if m.id == "django_qstash.W001"]
    assert close.hint == "Did you mean 'MAX_RETRIES'?"
    assert "conf.py" in far.hint


def test_qstash_that_is_not_a_dict_is_one_error(settings):
    settings.QSTASH = ["TRANSPORT", "celery"]
    with pytest.raises(SystemCheckError) as raised:
        call_command("check")
    assert "django_qstash.E015" in str(raised.value)


def test_celery_transport_needs_a_broker(settings, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    # The test settings configure no broker for the Celery app; the environment can.
    assert [m for m, _ in found(settings, TRANSPORT="celery")] == ["django_qstash.E013"]
    monkeypatch.setenv("CELERY_BROKER_URL", "redis://127.0.0.1:6379/7")
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", "/tmp/metrics")
    assert found(settings, TRANSPORT="celery") == []


SQLITE = {"ENGINE": "django.db.backends.sqlite3", "NAME": "x.sqlite3"}


@pytest.mark.parametrize(("options", "warned"), [
    (None, True), ({}, True), ({"transaction_mode": "DEFERRED"}, True),
    ({"transaction_mode": "IMMEDIATE"}, False), ({"transaction_mode": "immediate"}, False)])
def test_sqlite_with_deferred_transactions_is_a_warning(options, warned):
    database = {**SQLITE, **({"OPTIONS": options} if options is not None else {})}
    found_ids = [message.id for message in checks.sqlite_write_warnings({"extra": database})]
    assert found_ids == (["django_qstash.W003"] if warned else [])


def test_postgresql_is_not_warned_about():
    assert checks.sqlite_write_warnings({"default": {
        "ENGINE": "django.db.backends.postgresql", "NAME": "qstash"}}) == []


def test_the_dev_server_begins_its_sqlite_writes_immediately():
    """What qstash_dev applies to its own process, whatever the project configured."""
    from django.db import connections

    from django_qstash.db.sqlite_writes import begin_writes_immediately

    connections.settings["deferred"] = {**connections.settings["default"], **SQLITE,
                                        "OPTIONS": {}}
    try:
        changed = begin_writes_immediately()
        assert "deferred" in changed
        options = connections.settings["deferred"]["OPTIONS"]
        assert options == {"transaction_mode": "IMMEDIATE", "timeout": 20}
        assert connections["deferred"].get_connection_params()["timeout"] == 20
        assert begin_writes_immediately() == []  # nothing left to change
    finally:
        del connections.settings["deferred"]


class CountingTransport:
    """A transport of the project's own, named by its dotted path."""

    def __init__(self) -> None:
        self.submitted: list = []

    def submit(self, items: list) -> None:
        self.submitted.extend(items)


@pytest.mark.parametrize("path", [
    f"{__name__}.CountingTransport", "django_qstash.delivery.transport.InProcessTransport"])
def test_a_dotted_path_to_a_transport_class_passes(settings, path):
    assert found(settings, TRANSPORT=path) == []


@pytest.mark.parametrize(("path", "why"), [
    ("myproject.transports.Missing", "cannot be imported: No module named 'myproject'"),
    (f"{__name__}.NoSuchTransport", "cannot be imported"),
    (f"{__name__}.found", "which is not a transport class"),
])
def test_a_dotted_path_that_does_not_name_a_transport_class_is_an_error(settings, path, why):
    [(message_id, text)] = found(settings, TRANSPORT=path)
    assert message_id == "django_qstash.E016" and why in text and repr(path) in text


def test_a_dotted_path_to_the_celery_transport_is_checked_like_celery(settings, monkeypatch):
    monkeypatch.delenv("CELERY_BROKER_URL", raising=False)
    assert [m for m, _ in found(settings, TRANSPORT="django_qstash.delivery.transport.CeleryTransport")
            ] == ["django_qstash.E013"]


@pytest.mark.django_db(transaction=True)
def test_publishing_hands_due_now_messages_to_the_transport_the_dotted_path_names(
        settings, qstash_runtime):
    from django_qstash.engine.publishing import prepare, publish_specs
    from django_qstash.engine.tenants import create_tenant

    # Not sent by this process itself (LOCAL_DELIVERY_LIMIT): every message to the transport.
    settings.QSTASH = {**settings.QSTASH, "TRANSPORT": f"{__name__}.CountingTransport",
                       "LOCAL_DELIVERY_LIMIT": 0}
    tenant = create_tenant("dotted")
    [result] = publish_specs(tenant, [prepare(tenant, "http://127.0.0.1:9/hook", b"x", [])])
    assert qstash_runtime.wait_idle(timeout=10)  # handed over by the submitter thread
    from django_qstash.delivery.transport import get_transport

    transport = get_transport()
    assert isinstance(transport, CountingTransport)
    assert [item[0] for item in transport.submitted] == [result.message_id]


def _urlconf(*patterns, handler400: str | None = None) -> ModuleType:
    module = ModuleType("urls_under_check")
    module.urlpatterns = list(patterns)
    if handler400:
        module.handler400 = handler400
    return module


@pytest.fixture
def urlconf(settings):
    def use(module: ModuleType) -> None:
        settings.ROOT_URLCONF = module
        clear_url_caches()

    yield use
    clear_url_caches()


@pytest.mark.parametrize("prefix", ["", "qstash/"])
def test_the_api_mounted_without_its_400_handler_warns(urlconf, prefix):
    urlconf(_urlconf(path(prefix, include("django_qstash.urls"))))
    [warning] = check_api_error_handler()
    assert warning.id == "django_qstash.W004"
    assert 'handler400 = "django_qstash.api.errors.bad_request"' in warning.hint


@pytest.mark.parametrize("module", [
    _urlconf(path("", include("django_qstash.urls")),
             handler400="django_qstash.api.errors.bad_request"),
    _urlconf(path("admin/", admin.site.urls)),  # a receiver-only project: no API mounted
], ids=["handler set", "no API"])
def test_no_warning_with_the_handler_or_without_the_api(urlconf, module):
    urlconf(module)
    assert check_api_error_handler() == []


def test_the_warning_runs_with_manage_py_check(urlconf):
    urlconf(_urlconf(path("", include("django_qstash.urls"))))
    with pytest.raises(SystemCheckError, match="W004"):
        call_command("check", "--fail-level", "WARNING")
