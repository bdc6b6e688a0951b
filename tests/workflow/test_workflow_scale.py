"""100 sequential steps and a 50-way fan-out of the Node Workflow SDK on the live server, with
wall time and the bytes the server stored per step (printed; see docs/workflow.md, Measured)."""

from __future__ import annotations

import pytest

from tests.workflow.helpers import sdk_env
from tests.workflow.scale import scale_runs

pytestmark = pytest.mark.django_db(transaction=True)
DEFAULT_INLINE_HISTORY_BYTES = 256 * 1024


@pytest.mark.parametrize("inline_history_bytes", [DEFAULT_INLINE_HISTORY_BYTES, 0],
                         ids=["inline-history", "lazy-fetch"])
def test_sequential_and_fan_out_runs_complete_on_the_live_server(node, qstash, settings,
                                                                  inline_history_bytes):
    from django.db import connection

    settings.QSTASH = {**settings.QSTASH, "WORKFLOW_INLINE_HISTORY_BYTES": inline_history_bytes}
    env = sdk_env(qstash.url, qstash.token, qstash.current_key, qstash.next_key)
    where = (f"the live server ({connection.vendor}, WORKFLOW_INLINE_HISTORY_BYTES="
             f"{inline_history_bytes})")
    runs = scale_runs(node, env, connection.cursor, where)
    for run in runs:
        stored = run["stored"]
        assert stored.steps >= run["steps"], run
        # Step messages store no body: each delivery's history is composed from the step
        # rows when it is sent, so storage grows linearly with the run.
        assert stored.message_body_bytes == 0, run
