"""A message cancelled while it waits for its host's share of the delivery slots is never sent:
the last look for a cancel comes after the share is taken, not before."""

from __future__ import annotations

import time

from django_qstash.delivery import sender

from .helpers import api, events, publish, wait_for_state

SLOW_SECONDS = 3


def test_a_message_cancelled_while_waiting_for_its_hosts_share_is_never_sent(qstash, sink):
    share = sender.fair_share()
    per_host = share.per_host  # this process's share: the slow sends below hold all of it
    headers = {"Upstash-Timeout": f"{SLOW_SECONDS + 5}s", "Upstash-Retries": "0"}
    items = [{"destination": f"{sink.url}/sleep/{SLOW_SECONDS}", "body": str(i),
              "headers": headers} for i in range(per_host)]
    response = api(qstash, "POST", "/v2/batch", json=items)
    assert response.status_code == 200, response.text
    sink.wait_for(per_host, "/sleep/", timeout=10)  # every slot of the host is held
    started = time.monotonic()

    # Due now, to the same host: claimed and handed to the worker, where it waits its turn.
    message_id = publish(qstash, f"{sink.url}/waiting", b"x", Upstash_Retries="0")
    wait_for_state(qstash, message_id, "ACTIVE", timeout=5)
    deadline = time.monotonic() + 5
    while not share.waiting and time.monotonic() < deadline:
        time.sleep(0.01)
    assert share.waiting, "the message never waited for its host's share"
    assert time.monotonic() - started < SLOW_SECONDS - 0.5, "the slow sends ended too soon"
    response = api(qstash, "DELETE", f"/v2/messages/{message_id}")
    assert response.status_code == 200, response.text

    seen = wait_for_state(qstash, message_id, "CANCELED", timeout=SLOW_SECONDS + 10)
    sink.wait_for(per_host, "/sleep/")
    time.sleep(0.5)  # a send after the share freed would have arrived by now
    assert sink.received("/waiting") == []
    assert events(qstash, message_id) == seen
    assert seen[-1] == "CANCELED" and "DELIVERED" not in seen and "ERROR" not in seen
