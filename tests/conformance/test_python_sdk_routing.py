"""The official ``qstash`` SDK drives URL groups, queues, enqueue and flow control."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.django_db(transaction=True)


def test_url_groups(client, sink):
    client.url_group.delete("sdk-group")  # unknown: must still succeed
    client.url_group.upsert_endpoints(url_group="sdk-group", endpoints=[
        {"url": f"{sink.url}/e1", "name": "first"}, {"url": f"{sink.url}/e2"}])
    group = client.url_group.get("sdk-group")
    assert group.name == "sdk-group" and [e.url for e in group.endpoints] == [
        f"{sink.url}/e1", f"{sink.url}/e2"]
    assert [g.name for g in client.url_group.list()] == ["sdk-group"]
    results = client.message.publish_json(url_group="sdk-group", body={"fan": "out"})
    assert sorted(r.url for r in results) == [f"{sink.url}/e1", f"{sink.url}/e2"]
    sink.wait_for(2)
    client.url_group.remove_endpoints(url_group="sdk-group", endpoints=[{"name": "first"}])
    assert [e.url for e in client.url_group.get("sdk-group").endpoints] == [f"{sink.url}/e2"]
    client.url_group.delete("sdk-group")
    assert client.url_group.list() == []


def test_queues_and_enqueue(client, sink):
    client.queue.upsert("sdk-queue", parallelism=2, paused=True)
    queue = client.queue.get("sdk-queue")
    assert (queue.name, queue.parallelism, queue.paused, queue.lag) == ("sdk-queue", 2, True, 0)
    result = client.message.enqueue_json(queue="sdk-queue", url=f"{sink.url}/q", body={"n": 1})
    assert client.queue.get("sdk-queue").lag == 1
    assert client.message.get(result.message_id).queue == "sdk-queue"
    client.queue.resume("sdk-queue")
    sink.wait_for(1, "/q")
    client.queue.pause("sdk-queue")
    assert client.queue.get("sdk-queue").paused is True
    assert [q.name for q in client.queue.list()] == ["sdk-queue"]
    client.queue.delete("sdk-queue")
    assert client.queue.list() == []


def test_flow_control(client, sink):
    client.message.publish_json(url=f"{sink.url}/fc", body={},
                                flow_control={"key": "sdk-key", "parallelism": 2, "rate": 5,
                                              "period": 60})
    info = client.flow_control.get("sdk-key")
    assert (info.key, info.parallelism_max, info.rate_max, info.rate_period) == (
        "sdk-key", 2, 5, 60)
    client.flow_control.pause("sdk-key")
    assert client.flow_control.get("sdk-key").is_paused is True
    client.flow_control.resume("sdk-key")
    client.flow_control.pin("sdk-key", {"parallelism": 4, "rate": 7, "period": 30})
    pinned = client.flow_control.get("sdk-key")
    assert (pinned.parallelism_max, pinned.rate_max, pinned.rate_period) == (4, 7, 30)
    assert pinned.is_pinned_parallelism and pinned.is_pinned_rate
    client.flow_control.unpin("sdk-key", {"parallelism": True, "rate": False})
    unpinned = client.flow_control.get("sdk-key")
    assert not unpinned.is_pinned_parallelism and unpinned.is_pinned_rate
    client.flow_control.reset_rate("sdk-key")
    assert client.flow_control.get("sdk-key").rate_count == 0
    overall = client.flow_control.get_global_parallelism()
    assert overall.parallelism_count >= 0
