"""Every URL-taking path x every spelling of a non-public address: a 400 or a refusal, never a send.

The trap is a loopback sink that must receive nothing; messages that follow a delivery
(callbacks) go through a second sink on 127.0.0.2, the only address the allow-list opens.
The autouse guard (conftest.py) fails any case that tries to connect beyond loopback.
"""

from __future__ import annotations

import os
import time

import pytest

from tests.e2e.helpers import api, events
from tests.security.ssrf_paths import PATHS, Context
from tests.support.sink import start_sink

pytestmark = pytest.mark.django_db(transaction=True)

HELPER_HOST = "127.0.0.2"
# Each stands for 127.0.0.1 (or another non-public address) at the trap's port.
SPELLINGS = {
    "decimal": "2130706433:{port}",
    "octal": "0177.0.0.1:{port}",
    "hex": "0x7f.1:{port}",
    "short": "127.1:{port}",
    "IPv6 loopback": "[::1]:{port}",
    "IPv4-mapped": "[::ffff:127.0.0.1]:{port}",
    "IPv4-mapped hex": "[::ffff:7f00:1]:{port}",
    "ideographic dots": "127\u30020\u30020\u30021:{port}",
    "full-width dots": "127\uff0e0\uff0e0\uff0e1:{port}",
    "half-width dots": "127\uff610\uff610\uff611:{port}",
    "full-width digits": "\uff11\uff12\uff17.\uff10.\uff10.\uff11:{port}",
    "userinfo": "user@127.0.0.1:{port}",
    "#@": "127.0.0.1:{port}#@localhost",
    "?@": "127.0.0.1:{port}?@localhost",
    "\\@": "127.0.0.1:{port}\\@localhost",
    "localhost.": "localhost.:{port}",
    "127.0.0.1.": "127.0.0.1.:{port}",
    "localhost": "localhost:{port}",
    "0.0.0.0": "0.0.0.0:{port}",
    "metadata": "169.254.169.254:{port}",
}
TERMINAL = ("FAILED", "DELIVERED")


@pytest.fixture(scope="module")
def trap():
    """Shared by the whole matrix (a sink's shutdown costs half a second): each case checks
    the arrivals since it began."""
    trap = start_sink()
    yield trap
    trap.close()


@pytest.fixture(scope="module")
def helper():
    helper = start_sink(HELPER_HOST)
    yield helper
    helper.close()


@pytest.fixture
def production(settings, helper):
    settings.QSTASH = {**settings.QSTASH, "ALLOW_PRIVATE_DESTINATIONS": False,
                       "ALLOWED_DESTINATIONS": [f"{HELPER_HOST}/32"]}
    return settings


def trap_url(spelling: str, port: int) -> str:
    return f"http://{SPELLINGS[spelling].format(port=port)}/trap"


def wait_for_end(qstash, message_id: str, timeout: float = 20) -> list[str]:
    deadline = time.monotonic() + timeout
    states: list[str] = []
    while time.monotonic() < deadline:
        states = events(qstash, message_id)
        if any(state in states for state in TERMINAL):
            return states
        time.sleep(0.05)
    found = api(qstash, "GET", "/v2/events", params={"messageId": message_id}).json()["events"]
    raise AssertionError(f"{message_id} never ended; events: {states} {found}")


def assert_refused(qstash, message_id: str) -> None:
    """FAILED by the policy at the first attempt, not retried, and in the DLQ."""
    states = wait_for_end(qstash, message_id)
    assert "DELIVERED" not in states and "RETRY" not in states, states
    found = api(qstash, "GET", "/v2/events", params={"messageId": message_id}).json()["events"]
    failed = next(e for e in found if e["state"] == "FAILED")
    assert failed["error"].startswith("refused: destination"), failed
    dlq = api(qstash, "GET", "/v2/dlq", params={"messageId": message_id}).json()["messages"]
    assert [entry["messageId"] for entry in dlq] == [message_id], dlq


# The parser and the policy do not depend on the database: SQLite runs every spelling on every
# path; the PostgreSQL pass runs every path with a few spellings, for how each path stores the
# URL and reads it back.
ON_POSTGRES = os.environ.get("QSTASH_TEST_DATABASE_URL", "").startswith("postgres")
POSTGRES_SPELLINGS = ("decimal", "IPv4-mapped", "ideographic dots")
CASES = [(path, spelling) for path in PATHS for spelling in SPELLINGS
         if not ON_POSTGRES or spelling in POSTGRES_SPELLINGS]


@pytest.mark.parametrize("path, spelling", CASES)
def test_non_public_spellings_never_reach_the_trap(qstash, trap, helper, production, path,
                                                   spelling, record_property):
    url = trap_url(spelling, trap.server.server_address[1])
    before = len(trap.received())
    outcome = PATHS[path](Context(qstash, helper.url), url)
    # In a --junitxml report: how each case was stopped, for the security figures.
    record_property("stopped", "door" if outcome.refused_at_door else "refused")
    if outcome.refused_at_door:
        assert not outcome.message_ids
    else:
        assert outcome.message_ids, "accepted without a message"
        for message_id in outcome.message_ids:
            wait_for_end(qstash, message_id)
            assert trap.received()[before:] == [], f"GOT THROUGH: {url!r} via {path}"
            assert_refused(qstash, message_id)
    assert trap.received()[before:] == [], f"GOT THROUGH: {url!r} via {path}"


def test_the_helper_reaches_its_sink_and_only_it(qstash, sink, helper, production):
    # ``sink`` (127.0.0.1, like the trap) stands for everything the allow-list keeps shut.
    """The allow-list opens the helper and nothing else: the matrix's callbacks really fire."""
    response = api(qstash, "POST", f"/v2/publish/{helper.url}/ok", content=b"x",
                   headers={"Upstash-Callback": f"{helper.url}/cb"})
    assert response.status_code == 200, response.text
    helper.wait_for(1, "/cb")
    assert sink.received() == []
