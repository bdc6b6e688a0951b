"""Long-running processes freeze their start-up objects out of the collector's full passes."""

from __future__ import annotations

import gc

import pytest
from celery.signals import worker_process_init, worker_ready

from django_qstash.delivery.heap import freeze_startup_objects


@pytest.fixture(autouse=True)
def unfrozen():
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_objects_alive_at_startup_move_to_the_permanent_generation():
    kept = [object() for _ in range(10)]  # noqa: F841 - alive across the freeze
    assert gc.get_freeze_count() == 0
    assert freeze_startup_objects(load_urls=True)
    assert gc.get_freeze_count() > 1000  # Django, the URLconf, this test run


def test_the_setting_turns_it_off(settings):
    settings.QSTASH = {**settings.QSTASH, "FREEZE_STARTUP_HEAP": False}
    assert not freeze_startup_objects()
    assert gc.get_freeze_count() == 0


@pytest.mark.parametrize("signal", [worker_process_init, worker_ready])
def test_celery_worker_processes_freeze_once_started(signal):
    import django_qstash.tasks  # noqa: F401 - connects the receivers

    signal.send(sender=None)
    assert gc.get_freeze_count() > 1000
