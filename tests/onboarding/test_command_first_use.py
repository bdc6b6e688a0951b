"""Commands on a fresh database behave like the Python client, and say what they show."""

from __future__ import annotations

import json
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from django_qstash.models import Message, Tenant
from tests.operator.factories import make_dlq


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO())
    return out.getvalue()


def test_publish_without_a_tenant_creates_the_default_one_like_the_client(db):
    assert not Tenant.objects.exists()
    out = run("qstash_publish", "https://example.com/hook", "--body", "hi", "--delay", "1h")
    message = Message.objects.get(pk=json.loads(out)["messageId"])
    assert message.tenant.name == "default"


def test_publish_to_an_unknown_named_tenant_is_still_refused(db):
    with pytest.raises(CommandError, match="unknown tenant 'acme'"):
        run("qstash_publish", "https://example.com/hook", "--tenant", "acme")
    assert not Tenant.objects.filter(name="acme").exists()


def test_dlq_list_says_when_it_is_empty(db):
    assert run("qstash_dlq", "list") == "no DLQ entries\n"
    assert run("qstash_dlq", "list", "--json") == ""   # machine output stays empty


def test_dlq_list_has_a_header(db):
    from django_qstash.engine.tenants import create_tenant

    entry = make_dlq(create_tenant("ops"), status=500)
    header, row = run("qstash_dlq", "list").splitlines()
    assert header.split("\t") == ["DLQ ID", "TENANT", "MESSAGE ID", "URL", "QUEUE", "STATUS",
                                  "ERROR", "CREATED"]
    assert row.split("\t")[0] == entry.dlq_id
