"""Processes that publish and exit at once (commands, scripts, cron jobs) hand their messages over."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest

from tests.support import http_client
from tests.support.services import require_services
from tests.support.stack import ROOT

pytestmark = pytest.mark.services

# The stack's lease (60 s timeout + 2 s grace + 5 s pickup) would bring a message that never
# reached the broker back after about 67 s; a hand-over arrives well within this.
PROMPT_SECONDS = 10


@pytest.fixture(scope="module")
def stack():
    require_services()
    from tests.support.stack import drop_stack, start_stack

    stack = start_stack(workers=1, dispatchers=1)
    ACME_TOKEN.append(stack.manage("qstash_create_token", "--tenant", "acme", "--quiet").strip())
    yield stack
    drop_stack(stack)


def arrival_delay(sink, path: str, started: float) -> float:
    [arrival] = sink.wait_for(1, path, timeout=PROMPT_SECONDS)
    return arrival.at - started


ACME_TOKEN: list[str] = []
# From the moment the command's message was accepted (its row's creation) to its arrival.
HANDED_OVER_SECONDS = 1.0


def created_at(stack, message_id: str) -> float:
    answer = http_client.get(f"{stack.url}/v2/messages/{message_id}", timeout=10,
                             headers={"Authorization": f"Bearer {ACME_TOKEN[-1]}"})
    return answer.json()["createdAt"] / 1000


def test_qstash_publish_command_hands_its_message_over_before_exiting(stack, sink):
    # A few runs: whether the exiting process happened to finish the hand-over is a race.
    for run in range(3):
        started = time.time()
        answer = json.loads(stack.manage("qstash_publish", f"{sink.url}/command/{run}",
                                         "--body", "hi", "--tenant", "acme"))
        assert arrival_delay(sink, f"/command/{run}", started) < PROMPT_SECONDS
        [arrival] = sink.received(f"/command/{run}")
        assert (arrival.body, arrival.headers["Upstash-Message-Id"]) == (
            b"hi", answer["messageId"])
        # The process start-up is the command's; once accepted, the message is with a
        # worker at once, not left for a lease.
        assert arrival.at - created_at(stack, answer["messageId"]) < HANDED_OVER_SECONDS


def test_a_script_using_the_client_hands_its_messages_over_before_exiting(stack, sink):
    script = (
        "import django; django.setup()\n"
        "from django_qstash import client\n"
        f"print(client.publish({sink.url + '/script'!r}, 'from a script', tenant='acme'))\n"
    )
    started = time.time()
    result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=stack.env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert arrival_delay(sink, "/script", started) < PROMPT_SECONDS
    [arrival] = sink.received("/script")
    assert arrival.headers["Upstash-Message-Id"] == result.stdout.strip()
