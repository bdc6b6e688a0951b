"""client.publish against the real engine: local rows, delivery, URL groups, remote servers."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from qstash import Receiver

from django_qstash.client import publish, publish_json
from django_qstash.core import clock
from django_qstash.exceptions import ApiError, BadRequest, NotFound
from django_qstash.models import Message, UrlGroup

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_local_publish_is_delivered_signed_by_the_tenant(qstash, sink):
    url = f"{sink.url}/orders"
    message_id = publish_json(url, {"order": 7}, headers={"X-Source": "shop"},
                              tenant=qstash.tenant, retries=2, label="shop")
    [arrival] = sink.wait_for(1)
    assert arrival.body == b'{"order": 7}'
    assert arrival.headers["X-Source"] == "shop"
    assert arrival.headers["Content-Type"] == "application/json"
    assert arrival.headers["Upstash-Message-Id"] == message_id
    Receiver(current_signing_key=qstash.current_key, next_signing_key=qstash.next_key).verify(
        signature=arrival.headers["Upstash-Signature"], body=arrival.body.decode(), url=url)
    message = Message.objects.get(id=message_id)
    assert message.max_retries == 2 and message.labels == ["shop"]


def test_the_default_tenant_is_created_and_options_land_in_the_row():
    before = clock.now()
    message_id = publish("https://example.com/later", b"x", delay=3600, method="PUT",
                         timeout="45s", queue=None)
    message = Message.objects.get(id=message_id)
    assert message.tenant.name == "default"
    assert message.method == "PUT" and message.timeout_seconds == 45
    assert message.not_before - before >= timedelta(seconds=3599)
    # The second publish reuses the tenant rather than creating another.
    other = publish("https://example.com/later", b"y", delay=60, tenant="default")
    assert Message.objects.get(id=other).tenant_id == message.tenant_id


def test_enqueue_goes_to_the_named_queue():
    message_id = publish("https://example.com/q", "a", queue="emails")
    assert Message.objects.get(id=message_id).queue_name == "emails"


def test_a_publish_inside_a_rolled_back_transaction_leaves_nothing():
    with pytest.raises(RuntimeError), transaction.atomic():
        publish("https://example.com/x", "gone", delay=60)
        raise RuntimeError("roll back")
    assert not Message.objects.exists()


def test_a_url_group_returns_one_id_per_endpoint(qstash):
    group = UrlGroup.objects.create(tenant=qstash.tenant, name="team")
    group.endpoints.create(url="https://example.com/a")
    group.endpoints.create(url="https://example.com/b")
    ids = publish("team", "hi", tenant=qstash.tenant.name, delay=60)
    assert isinstance(ids, list) and len(ids) == 2
    urls = set(Message.objects.filter(id__in=ids).values_list("url", flat=True))
    assert urls == {"https://example.com/a", "https://example.com/b"}


def test_deduplicated_publishes_return_the_first_id():
    first = publish("https://example.com/d", "x", deduplication_id="once", delay=60)
    assert publish("https://example.com/d", "x", deduplication_id="once", delay=60) == first
    assert Message.objects.count() == 1


def test_unknown_tenants_and_bad_options_raise_api_errors():
    with pytest.raises(NotFound):
        publish("https://example.com/x", tenant="no-such-tenant")
    with pytest.raises(BadRequest, match="Upstash-Retries"):
        publish("https://example.com/x", retries=10_000)
    assert not Message.objects.exists()


@pytest.fixture
def remote(settings, qstash):
    settings.QSTASH = {**settings.QSTASH, "CLIENT_URL": qstash.url + "/",
                       "CLIENT_TOKEN": qstash.token}
    return qstash


def test_with_client_url_publishes_through_the_http_api(remote, sink):
    message_id = publish(f"{sink.url}/remote?page=2", "over http", headers={"X-A": "1"},
                         retries=1)
    [arrival] = sink.wait_for(1)
    assert arrival.path == "/remote?page=2" and arrival.body == b"over http"
    assert arrival.headers["X-A"] == "1"
    message = Message.objects.get(id=message_id)
    assert message.tenant_id == remote.tenant.id and message.max_retries == 1


def test_remote_errors_and_url_groups(remote):
    with pytest.raises(ApiError) as error:
        publish("https://example.com/x", delay="soon")
    assert error.value.status == 400 and "Upstash-Delay" in error.value.message
    group = UrlGroup.objects.create(tenant=remote.tenant, name="pair")
    group.endpoints.create(url="https://example.com/1")
    group.endpoints.create(url="https://example.com/2")
    assert len(publish("pair", delay=60)) == 2
    assert publish("https://example.com/q", "x", queue="remote-q").startswith("msg_")
    with pytest.raises(ValueError, match="tenant"):
        publish("https://example.com/x", tenant="other")


def test_a_wrong_remote_token_is_a_401(settings, remote):
    settings.QSTASH = {**settings.QSTASH, "CLIENT_TOKEN": "qst_wrong"}
    with pytest.raises(ApiError) as error:
        publish("https://example.com/x")
    assert error.value.status == 401


@pytest.mark.parametrize("arguments", [
    {"body": "text \ud800"},
    {"headers": {"X-Note": "v\ud800"}},
    {"headers": {"Upstash-Forward-X-Note": "v\udfff"}},
    {"label": "l\ud800"},
    {"destination": "https://example.com/\ud800"},
    {"callback": "https://example.com/cb\ud800"},
    {"queue": "q\ud800"},
])
def test_a_lone_surrogate_is_a_400_and_nothing_is_written(arguments):
    arguments = {"destination": "https://example.com/x", "delay": 60, **arguments}
    with pytest.raises(ApiError, match="lone surrogate") as raised:
        publish(**arguments)
    assert raised.value.status == 400
    assert not Message.objects.exists()


def test_prepare_refuses_a_lone_surrogate_from_any_caller():
    from django_qstash.client import resolve_tenant
    from django_qstash.engine.publishing import prepare

    tenant = resolve_tenant(None)
    for destination, pairs in [("https://example.com/\udc00", []),
                               ("https://example.com/x", [("Upstash-Label", "l\ud800")]),
                               ("https://example.com/x", [("X-N\udfff", "v")])]:
        with pytest.raises(BadRequest, match="lone surrogate"):
            prepare(tenant, destination, b"", pairs)
    assert not Message.objects.exists()
