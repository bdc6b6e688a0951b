"""The execution endpoint: only this tenant's signatures for its own URL run anything."""

from __future__ import annotations

import pytest
from django.test import Client
from django_tasks import default_task_backend

from django_qstash.core.signing import generate_signing_key
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Queue, TaskResultRecord
from django_qstash.testing import enqueued_tasks, sign_request
from tests.tasks_backend import tasks

URL = "http://testserver/qstash/tasks/default"


@pytest.fixture
def tenant(db):
    return create_tenant("tests")


@pytest.fixture
def outbox(qstash_outbox, tenant):
    return qstash_outbox


def deliver(body: bytes, *, key: str | None, url: str = URL, retried: int = 0,
            message_id: str = "msg_test"):
    extra = sign_request(url, body, key=key) if key else {}
    return Client().post("/qstash/tasks/default", body, content_type="application/json",
                         **{**extra, "HTTP_UPSTASH_RETRIED": str(retried),
                            "HTTP_UPSTASH_MESSAGE_ID": message_id})


def test_enqueue_writes_a_result_and_one_message_for_the_endpoint(outbox):
    result = tasks.add.enqueue(1, 2)
    [message] = outbox
    assert message.destination == URL and message.queue == "tasks-default"
    assert message.header("Content-Type") == "application/json"
    assert enqueued_tasks(outbox) == [{"task": "tests.tasks_backend.tasks.add", "args": [1, 2],
                                       "kwargs": {}, "id": result.id, "queue": "tasks-default"}]
    record = TaskResultRecord.objects.get(pk=result.id)
    assert (record.status, record.message_id) == ("READY", message.message_id)


def test_queue_parallelism_comes_from_the_options(outbox, settings):
    settings.TASKS = {"default": {
        "BACKEND": "django_qstash.tasks_backend.QStashTaskBackend", "QUEUES": ["emails"],
        "OPTIONS": {"BASE_URL": "http://testserver", "TENANT": "tests",
                    "QUEUE_PARALLELISM": {"emails": 3}}}}
    tasks.shout.enqueue("a")
    assert Queue.objects.get(name="tasks-emails").parallelism == 3


def test_priority_is_reported_unsupported():
    from django_tasks.exceptions import InvalidTaskError

    assert default_task_backend.supports_priority is False
    with pytest.raises(InvalidTaskError):
        tasks.add.using(priority=10)


def signed_run(outbox, tenant, label="x"):
    result = tasks.count_run.enqueue(label)
    [message] = outbox
    return result, message.body, tenant.signing_keys


def test_a_signed_delivery_runs_the_task_once(outbox, tenant):
    tasks.RUNS.clear()
    result, body, keys = signed_run(outbox, tenant)
    response = deliver(body, key=keys.current)
    assert response.status_code == 200, response.content
    assert response.json() == {"id": result.id, "status": "SUCCESSFUL"}
    # Delivered again (at-least-once): answered from the stored result, not run twice.
    assert deliver(body, key=keys.next).status_code == 200
    assert tasks.RUNS == ["x"]
    assert default_task_backend.get_result(result.id).return_value == 1


@pytest.mark.parametrize("case", ["unsigned", "other key", "other url", "other body"])
def test_anything_not_signed_for_this_endpoint_by_this_tenant_is_refused(outbox, tenant,
                                                                          case):
    tasks.RUNS.clear()
    _, body, keys = signed_run(outbox, tenant)
    key, url, sent = keys.current, URL, body
    if case == "unsigned":
        key = None
    elif case == "other key":
        key = generate_signing_key()
    elif case == "other url":
        url = "http://testserver/somewhere/else"
    token = sign_request(url, body, key=key)["HTTP_UPSTASH_SIGNATURE"] if key else None
    if case == "other body":
        sent = body.replace(b'"x"', b'"y"')
    response = Client().post("/qstash/tasks/default", sent, content_type="application/json",
                             **({"HTTP_UPSTASH_SIGNATURE": token} if token else {}))
    assert response.status_code == 401 and "error" in response.json()
    assert tasks.RUNS == []


@pytest.mark.parametrize("body", [b"not json", b"[]", b'{"task": "x"}',
                                  b"[" * 5000 + b"]" * 5000, b'{"id": NaN}'])
def test_a_signed_body_that_is_no_task_message_goes_to_the_dlq_at_once(tenant, body):
    response = deliver(body, key=tenant.signing_keys.current)
    assert response.status_code == 489 and response["Upstash-NonRetryable-Error"] == "true"
    assert "error" in response.json()


def test_only_decorated_tasks_run_whatever_a_signed_body_names(outbox, tenant):
    result, body, keys = signed_run(outbox, tenant)
    TaskResultRecord.objects.filter(pk=result.id).update(task_path="os.getcwd")
    response = deliver(body, key=keys.current)
    assert response.status_code == 489 and "is not a task" in response.json()["error"]
    record = TaskResultRecord.objects.get(pk=result.id)
    assert record.status == "FAILED" and record.errors


def test_unknown_backend_alias_is_a_404(tenant):
    response = Client().post("/qstash/tasks/nope", b"{}", content_type="application/json")
    assert response.status_code == 404 and "error" in response.json()


def test_a_get_is_refused(tenant):
    assert Client().get("/qstash/tasks/default").status_code == 405
