"""Message admin: filters, search, the timeline page, cancel, tenant scoping, cheap counts."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, User

from django_qstash.admin.base import COUNT_CAP, EstimatedCountPaginator
from django_qstash.models import Event, Message

from .factories import make_dlq, make_message

LIST = "/admin/django_qstash/message/"


def listed(client, query: str = "") -> str:
    response = client.get(LIST + query)
    assert response.status_code == 200, response.content[:500]
    return response.content.decode()


@pytest.mark.parametrize("query, hit, miss", [
    ("?status__exact=failed", "failed", "delivered"),
    ("?queue=orders", "queued", "plain"),
    ("?queue=-", "plain", "queued"),
    ("?destination=https://a.example.com", "to-a", "to-b"),
    ("?destination=grp", "grouped", "plain"),
    ("?label=vip", "labelled", "plain"),
    ("?schedule=scd_1", "scheduled", "plain"),
    ("?flow_control_key=fck", "flow", "plain"),
    ("?kind__exact=callback", "callback", "plain"),
])
def test_each_filter_narrows_the_list(admin_client, tenant, query, hit, miss):
    made = {
        "failed": make_message(tenant, status="failed"),
        "delivered": make_message(tenant),
        "queued": make_message(tenant, queue_name="orders"),
        "plain": make_message(tenant, url="https://c.example.com/x"),
        "to-a": make_message(tenant, url="https://a.example.com/hook"),
        "to-b": make_message(tenant, url="https://b.example.com/hook"),
        "grouped": make_message(tenant, topic_name="grp"),
        "labelled": make_message(tenant, labels=["vip"], label_index=",vip,"),
        "scheduled": make_message(tenant, schedule_id="scd_1"),
        "flow": make_message(tenant, flow_control_key="fck"),
        "callback": make_message(tenant, kind="callback"),
    }
    from django_qstash.models import Queue

    Queue.objects.create(tenant=tenant, name="orders")
    page = listed(admin_client, query)
    assert made[hit].id in page
    assert made[miss].id not in page


def test_tenant_and_date_filters_and_exact_search(admin_client, tenant, tenant_b):
    ours = make_message(tenant)
    theirs = make_message(tenant_b)
    old = make_message(tenant, age=timedelta(days=40))
    page = listed(admin_client, f"?tenant={tenant.pk}")
    assert ours.id in page and theirs.id not in page
    since = (ours.created_at - timedelta(days=7)).date().isoformat()
    page = listed(admin_client, f"?created_at__gte={since}")
    assert ours.id in page and old.id not in page
    page = listed(admin_client, f"?q={theirs.id}")
    assert theirs.id in page and ours.id not in page


def test_detail_page_shows_the_timeline_with_attempt_responses(admin_client, tenant):
    entry = make_dlq(tenant)
    page = admin_client.get(f"{LIST}{entry.message_id}/change/").content.decode()
    for text in ("CREATED", "FAILED", "attempt #1", "HTTP 500 in 12 ms", "X-Upstream", "boom",
                 "upstream exploded", entry.dlq_id, "&quot;hello&quot;: &quot;world&quot;"):
        assert text in page, text
    assert "Cancel message" not in page  # finished


@pytest.mark.parametrize("depth", [900, 5000])
def test_a_body_nested_too_deeply_to_indent_is_shown_as_sent(admin_client, tenant, depth):
    """The page indents a JSON body; one nested too deeply to parse or to indent again (a
    tenant may send any bytes) is shown as its text, not a 500."""
    body = b"[" * depth + b"]" * depth
    message = make_message(tenant, body=body)
    response = admin_client.get(f"{LIST}{message.id}/change/")
    assert response.status_code == 200
    assert "[[[[[[[[" in response.content.decode()


def test_cancel_button_cancels_a_pending_message(admin_client, tenant):
    message = make_message(tenant, status="pending")
    page = admin_client.get(f"{LIST}{message.id}/change/").content.decode()
    assert "Cancel message" in page
    response = admin_client.post(f"{LIST}{message.id}/cancel/")
    assert response.status_code == 302
    message.refresh_from_db()
    assert message.status == "canceled"
    assert list(Event.objects.filter(message_id=message.id).values_list("state", flat=True)
                .order_by("id")) == ["CREATED", "CANCEL_REQUESTED", "CANCELED"]
    # Asking again is harmless and says why nothing happened.
    response = admin_client.post(f"{LIST}{message.id}/cancel/", follow=True)
    assert "already canceled" in response.content.decode()


def test_cancel_action_leaves_finished_messages_alone(admin_client, tenant):
    pending = make_message(tenant, status="pending")
    active = make_message(tenant, status="active")
    done = make_message(tenant)
    response = admin_client.post(LIST, {"action": "cancel_messages",
                                        "_selected_action": [pending.id, active.id, done.id]},
                                 follow=True)
    assert "Canceled 2 messages" in response.content.decode()
    assert Message.objects.get(pk=pending.id).status == "canceled"
    # In flight: the worker finishes this attempt, then stops.
    assert Message.objects.get(pk=active.id).cancel_requested is True
    assert Message.objects.get(pk=done.id).status == "delivered"


def test_messages_are_read_only(admin_client, tenant):
    message = make_message(tenant)
    assert admin_client.get(f"{LIST}add/").status_code == 403
    assert admin_client.get(f"{LIST}{message.id}/delete/").status_code == 403


def test_staff_see_only_the_tenants_their_groups_name(client, tenant, tenant_b):
    ours, theirs = make_message(tenant), make_message(tenant_b)
    user = User.objects.create_user("op", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_message",
                                                                         "change_message"]))
    user.groups.add(Group.objects.create(name=f"qstash-tenant:{tenant.name}"))
    client.force_login(user)
    page = listed(client)
    assert ours.id in page and theirs.id not in page
    assert client.get(f"{LIST}{theirs.id}/change/").status_code == 302  # "does not exist"
    assert client.post(f"{LIST}{theirs.id}/cancel/").status_code == 404


def test_view_only_staff_cannot_cancel(client, tenant):
    message = make_message(tenant, status="pending")
    user = User.objects.create_user("viewer", password="pw", is_staff=True)
    from django.contrib.auth.models import Permission

    user.user_permissions.add(Permission.objects.get(codename="view_message"))
    user.groups.add(Group.objects.create(name=f"qstash-tenant:{tenant.name}"))
    client.force_login(user)
    assert "Cancel message" not in client.get(f"{LIST}{message.id}/change/").content.decode()
    assert client.post(f"{LIST}{message.id}/cancel/").status_code == 403


def test_filtered_counts_are_capped(tenant, monkeypatch):
    monkeypatch.setattr("django_qstash.admin.base.COUNT_CAP", 3)
    for _ in range(5):
        make_message(tenant)
    paginator = EstimatedCountPaginator(Message.objects.filter(tenant=tenant), 2)
    assert paginator.count == 3
    assert EstimatedCountPaginator(Message.objects.all(), 2).count == 3
    assert COUNT_CAP >= 1000


def test_event_log_lists_and_filters_by_message(admin_client, tenant):
    first, second = make_message(tenant), make_message(tenant)
    page = admin_client.get(f"/admin/django_qstash/event/?message_id={first.id}").content.decode()
    assert first.id in page and second.id not in page
    event = Event.objects.filter(message_id=first.id).first()
    assert admin_client.get(f"/admin/django_qstash/event/{event.pk}/change/").status_code == 200
