"""Rows written by bulk_insert (one statement, COPY, group commit) equal the ORM's, column by column."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import DatabaseError, IntegrityError, connections, transaction

from django_qstash.core import clock, ids
from django_qstash.db import bulk_insert
from django_qstash.db.bulk_insert import COPY_THRESHOLD, insert_groups, insert_rows
from django_qstash.db.drafts import EventDraft, MessageDraft
from django_qstash.db.group_commit import GroupCommit
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import DeliveryAttempt, Event, Message
from tests.support.message_fields import ALL_BYTES, KOLKATA, message_cases
from tests.support.rows import assert_same_row

pytestmark = pytest.mark.django_db(transaction=True)

CASES = list(message_cases(clock.now()))


def twins(case: str, count: int) -> tuple[list[MessageDraft], list[Message]]:
    """``count`` drafts for the fast path and as many model instances for the ORM, alike but
    for their ids."""
    tenant = create_tenant(f"parity-{ids.message_id()[-8:]}")
    fields = message_cases(clock.now())[case]
    drafts = [MessageDraft(id=ids.message_id(), tenant_id=tenant.pk, **fields) for _ in range(count)]
    models = [Message(id=ids.message_id(), tenant_id=tenant.pk, **fields) for _ in range(count)]
    return drafts, models


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("count", [1, 3, COPY_THRESHOLD + 1], ids=["one", "few", "copy"])
def test_inserted_messages_equal_bulk_created_ones(case, count):
    drafts, models = twins(case, count)
    insert_rows(Message, drafts)
    Message.objects.bulk_create(models)
    for draft, model in zip(drafts, models):
        assert_same_row(Message, draft.id, model.id)


@pytest.mark.parametrize("case", CASES)
def test_inserted_messages_equal_created_ones_inside_a_transaction(case):
    drafts, models = twins(case, 1)
    with transaction.atomic():  # no group commit: the caller's own transaction
        insert_rows(Message, drafts)
    fields = {f.attname: getattr(models[0], f.attname) for f in Message._meta.concrete_fields}
    Message.objects.create(**fields)
    assert_same_row(Message, drafts[0].id, models[0].id)


@pytest.mark.parametrize("case", CASES)
def test_model_instances_go_in_as_drafts_do(case):
    _, models = twins(case, 2)
    insert_rows(Message, [models[0]])  # insert_rows takes model instances too
    models[1].save(force_insert=True)
    assert_same_row(Message, models[0].id, models[1].id)


def test_rows_shared_by_a_group_commit_equal_the_orm_ones():
    """Writers in several threads at once share one statement and commit."""
    pairs = [twins(case, 2) for case in CASES]
    start = threading.Barrier(len(pairs))
    errors: list[BaseException] = []

    def write(drafts):
        try:
            start.wait(timeout=10)
            events = [EventDraft(tenant_id=d.tenant_id, message_id=d.id, state=Event.State.CREATED,
                                 time=d.created_at, url=d.url, labels=d.labels) for d in drafts]
            insert_groups([(Message, drafts), (Event, events)])
        except BaseException as exc:  # reported below, in the test's thread
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=write, args=(drafts,)) for drafts, _ in pairs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not errors
    for drafts, models in pairs:
        Message.objects.bulk_create(models)
        for draft, model in zip(drafts, models):
            assert_same_row(Message, draft.id, model.id)
            assert Event.objects.filter(message_id=draft.id, state="CREATED").count() == 1


@pytest.mark.parametrize("count", [1, COPY_THRESHOLD + 1], ids=["one", "copy"])
@pytest.mark.parametrize("response", [
    dict(response_status=None, response_headers=None, response_body=None),
    dict(response_status=200, response_headers={}, response_body=b""),
    dict(response_status=503, response_headers={"Retry-After": ["1"], "X-Ü": ["ö"]},
         response_body=ALL_BYTES, error="busy 🙂", next_delivery_time=clock.now()),
], ids=["nulls", "empty", "filled"])
def test_inserted_events_equal_bulk_created_ones(count, response):
    tenant = create_tenant("parity-events")
    now = clock.now()
    common = dict(tenant_id=tenant.pk, message_id="msg_x", state=Event.State.ERROR, time=now,
                  url="https://example.com/é", labels=["a"], label_index=",a,", **response)
    insert_rows(Event, [EventDraft(**common) for _ in range(count)])
    Event.objects.bulk_create([Event(**common) for _ in range(count)])
    rows = list(Event.objects.filter(tenant=tenant).order_by("id").values_list("id", flat=True))
    fast, orm = rows[:count], rows[count:]
    for fast_pk, orm_pk in zip(fast, orm):
        assert_same_row(Event, fast_pk, orm_pk, skip=("id",))


def test_inserted_attempts_equal_created_ones():
    tenant = create_tenant("parity-attempts")
    [message] = twins("required only", 1)[1]
    message.tenant_id = tenant.pk
    message.save(force_insert=True)
    common = dict(message_id=message.id, retried=1, started_at=clock.now().astimezone(KOLKATA),
                  duration_ms=12, response_status=None, response_headers={"A": ["ü"]},
                  response_body=b"\x00\xff", error="")
    fast = DeliveryAttempt(**common)
    insert_rows(DeliveryAttempt, [fast])
    orm = DeliveryAttempt.objects.create(**common)
    [fast_pk] = DeliveryAttempt.objects.exclude(pk=orm.pk).values_list("pk", flat=True)
    assert_same_row(DeliveryAttempt, fast_pk, orm.pk, skip=("id",))


@pytest.mark.parametrize("count", [1, COPY_THRESHOLD + 1], ids=["one", "copy"])
@pytest.mark.parametrize("column", ["headers", "labels", "callback_options"])
def test_none_in_a_json_column_that_takes_no_null_is_refused_as_by_the_orm(count, column):
    drafts, models = twins("required only", count)
    for draft, model in zip(drafts, models):
        setattr(draft, column, None)
        setattr(model, column, None)
    with pytest.raises(IntegrityError):
        Message.objects.bulk_create(models)
    with pytest.raises(DatabaseError):
        insert_rows(Message, drafts)
    assert not Message.objects.filter(id__in=[d.id for d in drafts]).exists()


def wait_until(condition, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


def test_rows_merged_into_one_shared_write_equal_the_orm_ones():
    """Held behind a first write, every other caller's rows go out in ONE merged write."""
    pairs = [twins(case, 2) for case in CASES]
    release, sizes = threading.Event(), []

    def write(groups):
        sizes.append(sum(len(objs) for _, objs in groups))
        if len(sizes) == 1:
            release.wait(timeout=10)
        bulk_insert._write(groups)

    committer = GroupCommit(write)
    def submit(drafts):
        try:
            committer.submit([(Message, drafts)])
        finally:
            connections.close_all()  # this thread's connection, so the test database can go

    threads = [threading.Thread(target=submit, args=(drafts,)) for drafts, _ in pairs]
    threads[0].start()
    wait_until(lambda: sizes)
    for thread in threads[1:]:
        thread.start()
    wait_until(lambda: len(committer.queue) == len(threads) - 1)
    release.set()
    for thread in threads:
        thread.join(timeout=30)
    assert sizes == [2, 2 * (len(pairs) - 1)]  # the others shared one write
    for drafts, models in pairs:
        Message.objects.bulk_create(models)
        for draft, model in zip(drafts, models):
            assert_same_row(Message, draft.id, model.id)
