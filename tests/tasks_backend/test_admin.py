"""Task results in the admin: list, detail with errors and message links, run again, tenancy."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group, Permission, User

from django_qstash.engine.tenants import create_tenant
from django_qstash.models import TaskResultRecord
from tests.tasks_backend import tasks

LIST = "/admin/django_qstash/taskresultrecord/"


@pytest.fixture
def failed(qstash_outbox, db):
    create_tenant("tests")
    result = tasks.fail.enqueue("boom")
    TaskResultRecord.objects.filter(pk=result.id).update(
        status="FAILED", worker_ids=["host:1"],
        errors=[{"exception_class_path": "builtins.ValueError",
                 "traceback": "Traceback ...\nValueError: boom\n"}])
    return TaskResultRecord.objects.get(pk=result.id)


def test_list_and_detail_show_the_result_and_link_its_messages(admin_client, failed):
    page = admin_client.get(LIST).content.decode()
    assert failed.id in page and "tests.tasks_backend.tasks.fail" in page
    detail = admin_client.get(f"{LIST}{failed.pk}/change/").content.decode()
    for text in ("builtins.ValueError", "ValueError: boom", "&quot;boom&quot;",
                 f"/admin/django_qstash/message/{failed.message_id}/change/"):
        assert text in detail, text


def test_run_again_enqueues_a_new_result_with_the_same_arguments(admin_client, failed,
                                                                 qstash_outbox):
    response = admin_client.post(LIST, {"action": "run_again", "_selected_action": [failed.pk]},
                                 follow=True)
    assert "Enqueued 1 tasks again" in response.content.decode()
    again = TaskResultRecord.objects.exclude(pk=failed.pk).get()
    assert (again.task_path, again.args, again.status) == (failed.task_path, ["boom"], "READY")
    assert len(qstash_outbox) == 2 and qstash_outbox[-1].json()["id"] == again.id


def test_staff_of_another_tenant_does_not_see_the_result(client, failed):
    create_tenant("other")
    user = User.objects.create_user("ops", password="x", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="taskresultrecord"))
    user.groups.add(Group.objects.create(name="qstash-tenant:other"))
    client.force_login(user)
    page = client.get(LIST)
    assert page.status_code == 200 and failed.id not in page.content.decode()
    assert client.get(f"{LIST}{failed.pk}/change/").status_code == 302  # not found → list
