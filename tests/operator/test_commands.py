"""Management commands: help, errors with a non-zero exit, and what each one does."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta
from io import StringIO
from types import FunctionType

import pytest
from django.core.management import CommandError, call_command

from django_qstash.core import clock
from django_qstash.engine.retention import PeriodicPurge, Policy
from django_qstash.models import DeduplicationRecord, DlqEntry, Event, Message, SigningKeyPair

from .factories import make_dlq, make_message

COMMANDS = ["qstash_dev", "qstash_dispatcher", "qstash_create_token", "qstash_rotate_keys",
            "qstash_publish", "qstash_dlq", "qstash_purge", "qstash_keys"]


def run(*args) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def manage(*args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "manage.py", *args, "--settings=tests.settings"],
                          capture_output=True, text=True, timeout=60)


@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_has_help(name):
    result = manage(name, "--help")
    assert result.returncode == 0 and "usage:" in result.stdout


def test_a_failing_command_exits_non_zero_with_a_clear_message():
    result = manage("qstash_rotate_keys")
    assert result.returncode == 1
    assert "CommandError: give --tenant NAME (repeatable) or --all" in result.stderr


def test_rotate_keys(tenant, tenant_b):
    before = SigningKeyPair.objects.get(tenant=tenant)
    out, _ = run("qstash_rotate_keys", "--tenant", "ops")
    after = SigningKeyPair.objects.get(tenant=tenant)
    assert after.current == before.next
    assert f"QSTASH_CURRENT_SIGNING_KEY={after.current}" in out
    assert SigningKeyPair.objects.get(tenant=tenant_b).current != after.current
    run("qstash_rotate_keys", "--all", "--quiet")
    assert SigningKeyPair.objects.get(tenant=tenant).current == after.next
    with pytest.raises(CommandError, match="unknown tenant"):
        run("qstash_rotate_keys", "--tenant", "nope")


def test_publish_maps_options_to_headers(tenant, tmp_path):
    body = tmp_path / "body.json"
    body.write_bytes(b'{"a": 1}')
    out, _ = run("qstash_publish", "https://example.com/hook", "--tenant", "ops",
                 "--body-file", str(body), "--content-type", "application/json",
                 "--delay", "1h", "--retries", "5", "--label", "x", "--label", "y",
                 "--forward", "X-Trace: 1", "-H", "Upstash-Method: PUT")
    message = Message.objects.get(pk=json.loads(out)["messageId"])
    assert bytes(message.body) == b'{"a": 1}' and message.method == "PUT"
    assert message.max_retries == 5 and message.labels == ["x", "y"]
    assert message.headers == {"Content-Type": ["application/json"], "X-Trace": ["1"]}
    assert message.not_before - message.created_at == timedelta(hours=1)
    out, _ = run("qstash_publish", "https://example.com/q", "--tenant", "ops",
                 "--queue", "jobs", "--body", "hi")
    assert Message.objects.get(pk=json.loads(out)["messageId"]).queue_name == "jobs"


@pytest.mark.parametrize("args, error", [
    (["https://example.com", "--tenant", "missing"], "unknown tenant"),
    (["https://example.com", "--retries", "lots"], "Upstash-Retries"),
    (["no-such-group"], "not found"),
    (["https://example.com", "-H", "broken"], "Name: value"),
    (["https://example.com", "--body-file", "/nonexistent/file"], "cannot read"),
])
def test_publish_errors(tenant, args, error):
    from django_qstash.engine.tenants import create_tenant

    create_tenant("default")
    with pytest.raises(CommandError, match=error):
        run("qstash_publish", *args)


def test_dlq_list_retry_delete_with_filters(tenant, tenant_b):
    a = make_dlq(tenant, status=500, queue_name="orders")
    b = make_dlq(tenant, status=404)
    c = make_dlq(tenant_b, status=500, age=timedelta(days=3))
    out, _ = run("qstash_dlq", "list", "--json")
    assert [json.loads(line)["dlqId"] for line in out.splitlines()] == [c.dlq_id, b.dlq_id,
                                                                       a.dlq_id]
    out, _ = run("qstash_dlq", "list", "--tenant", "ops", "--queue", "orders")
    assert a.dlq_id in out and b.dlq_id not in out
    with pytest.raises(CommandError, match="needs a filter"):
        run("qstash_dlq", "retry")
    out, _ = run("qstash_dlq", "retry", "--response-status", "500", "--dry-run")
    assert "would retry 2" in out and DlqEntry.objects.count() == 3
    out, err = run("qstash_dlq", "retry", "--response-status", "500", "--newer-than", "1d")
    assert "retried 1 DLQ entries" in out and "retry: 1/1" in err
    assert not DlqEntry.objects.filter(pk=a.pk).exists()
    out, _ = run("qstash_dlq", "delete", "--older-than", "2d")
    assert "deleted 1" in out and not DlqEntry.objects.filter(pk=c.pk).exists()
    out, _ = run("qstash_dlq", "delete", "--all", "--limit", "5")
    assert "deleted 1" in out and not DlqEntry.objects.exists()
    with pytest.raises(CommandError, match="empty duration|duration"):
        run("qstash_dlq", "list", "--older-than", "soon")


def test_purge_deletes_only_what_is_old_enough(tenant):
    # Made oldest first, as the engine writes them: the event walk follows id order.
    old_done = make_message(tenant, age=timedelta(days=10))
    old_pending = make_message(tenant, status="pending", age=timedelta(days=10))
    old_dlq = make_dlq(tenant, age=timedelta(days=10))
    retried_old = make_message(tenant, status="failed", age=timedelta(days=10))  # out of DLQ
    young_done = make_message(tenant, age=timedelta(hours=1))
    young_dlq = make_dlq(tenant, age=timedelta(hours=1))
    DeduplicationRecord.objects.create(tenant=tenant, key="k", message_id="m",
                                       expires_at=clock.now() - timedelta(seconds=1))
    out, err = run("qstash_purge", "--messages-older-than", "1d", "--dlq-older-than", "7d",
                   "--events-older-than", "2d", "--batch-size", "1")
    assert "messages=2" in out and "dlq=1" in out and "deduplication=1" in out
    assert "messages: 1 deleted" in err and "messages: 2 deleted" in err  # per batch
    left = set(Message.objects.values_list("pk", flat=True))
    assert left == {old_pending.pk, young_done.pk, young_dlq.message_id}
    assert not DlqEntry.objects.filter(pk=old_dlq.pk).exists()
    assert retried_old.pk not in left and old_done.pk not in left
    assert not Event.objects.filter(time__lt=clock.now() - timedelta(days=2)).exists()
    assert Event.objects.filter(message_id=young_done.pk).exists()
    with pytest.raises(CommandError, match="--batch-size"):
        run("qstash_purge", "--batch-size", "0")


def test_purge_from_the_dispatcher_runs_a_batch_per_interval(tenant):
    for _ in range(3):
        make_message(tenant, age=timedelta(days=10))
    hook = PeriodicPurge(60, Policy(messages=86400, events=None, dlq=None, batch_size=2))
    now = clock.now()
    hook(now)  # a full batch: run again on the next tick
    assert Message.objects.count() == 1 and hook.next_run == now
    hook(now)
    assert not Message.objects.exists() and hook.next_run == now + timedelta(seconds=60)
    make_message(tenant, age=timedelta(days=10))
    hook(now + timedelta(seconds=30))  # not due yet
    assert Message.objects.count() == 1


def test_dispatcher_once_with_purge(tenant):
    make_message(tenant, age=timedelta(days=30))
    out, _ = run("qstash_dispatcher", "--once", "--purge-every", "1")
    assert "claimed 0 messages" in out and not Message.objects.exists()


@pytest.mark.parametrize("purge_every", [None, 0, 60])
def test_the_dispatcher_command_ticks_everything_the_dispatcher_does(purge_every):
    from django_qstash.engine.dispatcher import Dispatcher
    from django_qstash.engine.retention import PeriodicPurge
    from django_qstash.management.commands.qstash_dispatcher import dispatcher_for

    dispatcher = dispatcher_for({"purge_every": purge_every, "batch_size": None,
                                 "interval": None})
    def kind(hook):  # functions by identity, hook objects by class
        return hook if isinstance(hook, FunctionType) else type(hook)

    kinds = [kind(hook) for hook in dispatcher.tick_hooks]
    defaults = [kind(hook) for hook in Dispatcher().tick_hooks]
    assert kinds[:len(defaults)] == defaults  # schedules, rollups and workflow waits included
    assert (PeriodicPurge in kinds) == bool(purge_every)  # None: PURGE_INTERVAL_SECONDS, 0
