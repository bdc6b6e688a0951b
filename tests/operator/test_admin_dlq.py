"""DLQ admin: filters, retry one, bulk retry (selected or all matching), edit and retry, delete."""

from __future__ import annotations

import pytest

from django_qstash.models import DlqEntry, Message

from .factories import make_dlq

LIST = "/admin/django_qstash/dlqentry/"


def test_list_and_filters(admin_client, tenant, tenant_b):
    e500 = make_dlq(tenant, status=500, queue_name="orders")
    e404 = make_dlq(tenant, status=404, url="https://other.example.com/x", labels=["vip"],
                    label_index=",vip,")
    theirs = make_dlq(tenant_b)
    from django_qstash.models import Queue

    Queue.objects.create(tenant=tenant, name="orders")
    cases = [("", {e500, e404, theirs}), (f"?tenant={tenant.pk}", {e500, e404}),
             ("?response_status=5xx", {e500, theirs}), ("?response_status=404", {e404}),
             ("?queue=orders", {e500}), ("?destination=https://other.example.com", {e404}),
             ("?label=vip", {e404}), (f"?q={e404.message_id}", {e404}),
             (f"?q={theirs.dlq_id}", {theirs})]
    everyone = {e500, e404, theirs}
    for query, expected in cases:
        page = admin_client.get(LIST + query).content.decode()
        for entry in everyone:
            assert (entry.dlq_id in page) == (entry in expected), (query, entry.dlq_id)


def test_detail_shows_response_and_retry_buttons(admin_client, tenant):
    entry = make_dlq(tenant)
    page = admin_client.get(f"{LIST}{entry.pk}/change/").content.decode()
    for text in ("upstream exploded", "X-Upstream", "Retry", "Edit &amp; retry", "attempt #1"):
        assert text in page, text


def test_retry_one_makes_a_new_message_and_drops_the_entry(admin_client, tenant):
    entry = make_dlq(tenant)
    response = admin_client.post(f"{LIST}{entry.pk}/retry/")
    assert response.status_code == 302
    new = Message.objects.exclude(pk=entry.message_id).get()
    assert response["Location"].endswith(f"/message/{new.pk}/change/")
    assert new.url == entry.message.url and bytes(new.body) == b'{"hello": "world"}'
    assert not DlqEntry.objects.exists()
    assert Message.objects.get(pk=entry.message_id).status == "failed"  # history stays


def test_bulk_retry_of_selected_and_of_every_match(admin_client, tenant):
    entries = [make_dlq(tenant, status=500) for _ in range(3)] + [make_dlq(tenant, status=404)]
    response = admin_client.post(LIST, {"action": "retry_selected",
                                        "_selected_action": [entries[0].pk]}, follow=True)
    assert "Retried 1 DLQ entries" in response.content.decode()
    # "Select all" across pages: the filtered selection, not only the visible rows.
    response = admin_client.post(LIST + "?response_status=500",
                                 {"action": "retry_selected", "select_across": "1",
                                  "_selected_action": [entries[1].pk]}, follow=True)
    assert "Retried 2 DLQ entries" in response.content.decode()
    assert list(DlqEntry.objects.values_list("pk", flat=True)) == [entries[3].pk]


def test_bulk_retry_is_capped_per_request(admin_client, tenant, monkeypatch):
    monkeypatch.setattr("django_qstash.admin.dlq.MAX_BULK", 2)
    for _ in range(3):
        make_dlq(tenant)
    response = admin_client.post(LIST, {"action": "retry_selected", "select_across": "1",
                                        "_selected_action": ["1"]}, follow=True)
    assert "run it again" in response.content.decode()
    assert DlqEntry.objects.count() == 1


def test_edit_and_retry_changes_only_the_new_message(admin_client, tenant):
    entry = make_dlq(tenant)
    url = f"{LIST}{entry.pk}/edit-retry/"
    page = admin_client.get(url).content.decode()
    assert "Content-Type: application/json" in page and "&quot;hello&quot;" in page
    response = admin_client.post(url, {"headers": "Content-Type: text/plain\nX-Fixed: yes",
                                       "body": "fixed body", "retries": "5"})
    assert response.status_code == 302, response.content.decode()[:2000]
    new = Message.objects.exclude(pk=entry.message_id).get()
    assert new.headers == {"Content-Type": ["text/plain"], "X-Fixed": ["yes"]}
    assert bytes(new.body) == b"fixed body" and new.max_retries == 5
    old = Message.objects.get(pk=entry.message_id)
    assert bytes(old.body) == b'{"hello": "world"}'


def test_edit_and_retry_rejects_bad_headers(admin_client, tenant):
    entry = make_dlq(tenant)
    response = admin_client.post(f"{LIST}{entry.pk}/edit-retry/", {"headers": "no colon",
                                                                  "body": "x"})
    assert response.status_code == 200 and "Name: value" in response.content.decode()
    assert DlqEntry.objects.count() == 1


def test_delete_asks_first_then_deletes_in_batches(admin_client, tenant):
    keep, *drop = [make_dlq(tenant, status=s) for s in (404, 500, 500)]
    data = {"action": "delete_selected_entries", "select_across": "1",
            "_selected_action": [drop[0].pk]}
    page = admin_client.post(LIST + "?response_status=500", data).content.decode()
    assert "Delete 2 DLQ entries?" in page and DlqEntry.objects.count() == 3
    response = admin_client.post(LIST + "?response_status=500", {**data, "confirm": "yes"},
                                 follow=True)
    assert "Deleted 2 DLQ entries" in response.content.decode()
    assert list(DlqEntry.objects.all()) == [keep]


@pytest.mark.parametrize("path", ["retry/", "edit-retry/"])
def test_retry_needs_change_permission(client, tenant, path):
    from django.contrib.auth.models import Permission, User

    entry = make_dlq(tenant)
    user = User.objects.create_user("viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_dlqentry"))
    client.force_login(user)
    assert client.post(f"{LIST}{entry.pk}/{path}").status_code == 403
    assert DlqEntry.objects.count() == 1
