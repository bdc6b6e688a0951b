"""Schedules in the Django admin: validated form, run-time preview, actions, recent messages."""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from django_qstash.engine import scheduler
from django_qstash.models import Message, Schedule

ADD_URL = "/admin/django_qstash/schedule/add/"
LIST_URL = "/admin/django_qstash/schedule/"


def form(tenant, **overrides) -> dict:
    data = {"tenant": tenant.pk, "schedule_id": "", "expression": "0 9 * * 1-5",
            "time_zone": "Europe/Berlin", "destination": "https://example.com/hook",
            "queue_name": "", "headers": "Content-Type: text/plain\nUpstash-Retries: 2",
            "body_text": "hello", "_save": "Save"}
    data.update(overrides)
    return data


def test_create_with_zone_then_preview_in_local_time_and_utc(admin_client, tenant, frozen_clock):
    response = admin_client.post(ADD_URL, form(tenant))
    assert response.status_code == 302, response.content.decode()[:2000]
    schedule = Schedule.objects.get()
    assert schedule.schedule_id.startswith("scd_")
    assert schedule.cron == "CRON_TZ=Europe/Berlin 0 9 * * 1-5"
    # The clock says Monday 2026-03-02 10:00:30 CET: the next run is Tuesday 09:00 CET.
    assert schedule.next_schedule_time == datetime(2026, 3, 3, 8, 0, tzinfo=timezone.utc)
    assert bytes(schedule.body) == b"hello"
    assert schedule.options["parsed"]["retries"] == 2
    page = admin_client.get(f"{LIST_URL}{schedule.pk}/change/").content.decode()
    assert "Tue 2026-03-03 09:00 CET" in page and "2026-03-03 08:00 UTC" in page
    assert "Mon 2026-03-09 09:00 CET" in page and page.count(" UTC</td>") == 5


@pytest.mark.parametrize("overrides, message", [
    ({"expression": "61 * * * *"}, "invalid minute field"),
    ({"expression": "* * * *"}, "must have 5 fields"),
    ({"expression": "CRON_TZ=Europe/Berlin * * * * *"}, "choose the time zone below"),
    ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
    ({"headers": "Upstash-Retries: lots"}, "Upstash-Retries"),
    ({"headers": "no colon here"}, "Name: value"),
    ({"destination": "missing-group"}, "missing-group"),
    ({"schedule_id": "bad id"}, "may contain only"),
])
def test_form_rejects_bad_input(admin_client, tenant, overrides, message):
    response = admin_client.post(ADD_URL, form(tenant, **overrides))
    assert response.status_code == 200 and message in response.content.decode()
    assert not Schedule.objects.exists()


def test_edit_changes_the_slot_and_keeps_history(admin_client, tenant, frozen_clock):
    schedule = scheduler.create_or_replace(tenant, "https://example.com/a", b"",
                                           [("Upstash-Cron", "0 12 * * *")])
    url = f"{LIST_URL}{schedule.pk}/change/"
    page = admin_client.get(url).content.decode()
    assert 'value="0 12 * * *"' in page
    response = admin_client.post(url, form(tenant, schedule_id=schedule.schedule_id,
                                           expression="*/30 * * * *", time_zone=""))
    assert response.status_code == 302
    schedule.refresh_from_db()
    assert schedule.cron == "*/30 * * * *"
    assert schedule.next_schedule_time == datetime(2026, 3, 2, 9, 30, tzinfo=timezone.utc)


def _action(admin_client, name: str, *schedules, **extra):
    selected = [s.pk for s in schedules]
    return admin_client.post(LIST_URL, {"action": name, "_selected_action": selected, **extra})


def test_pause_resume_run_now_and_delete_actions(admin_client, tenant, frozen_clock):
    first, second = (scheduler.create_or_replace(tenant, "https://example.com", b"x",
                                                 [("Upstash-Cron", "* * * * *")]) for _ in "ab")
    _action(admin_client, "pause", first, second)
    assert set(Schedule.objects.values_list("paused", flat=True)) == {True}
    _action(admin_client, "resume", first)
    assert Schedule.objects.get(pk=first.pk).paused is False
    _action(admin_client, "run_now", second)
    [message] = Message.objects.filter(schedule_id=second.schedule_id)
    page = admin_client.get(f"{LIST_URL}{second.pk}/change/").content.decode()
    assert message.id in page and "IN_PROGRESS" in page
    _action(admin_client, "delete_selected", first, second, post="yes")
    assert not Schedule.objects.exists()
