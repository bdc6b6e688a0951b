"""Scale runs of the Node Workflow SDK (node/scale.test.mjs), each with what it cost the server."""

from __future__ import annotations

import json

from tests.support.node_packages import run_node_test_file
from tests.workflow.helpers import NODE_DIR
from tests.workflow.stored import stored

RUN_TIMEOUT = 600


def scale_runs(node: str, env: dict, cursor_factory, where: str) -> list[dict]:
    """Run the scale cases; for each, its run id, step count and wall time (as node printed
    them) and what the server stored. ``cursor_factory()``: a context manager giving a
    DB-API cursor on the server's database."""
    returncode, output, elapsed = run_node_test_file(node, NODE_DIR, "scale.test.mjs", env,
                                                     None, RUN_TIMEOUT)
    assert returncode == 0, f"the scale runs failed (exit {returncode}, {elapsed:.1f} s):\n{output}"
    runs = [json.loads(line.split("SCALE ", 1)[1]) for line in output.splitlines()
            if "SCALE {" in line]
    assert [run["name"] for run in runs] == ["sequential", "fan-out"], output
    with cursor_factory() as cursor:
        for run in runs:
            run["stored"] = stored(cursor, run["workflowRunId"])
    for run in runs:
        print(f"\nscale on {where}: {run['name']} ({run['steps']} steps) in "
              f"{run['ms'] / 1000:.1f} s, {run['stored'].total() / run['steps']:.0f} B stored "
              f"per step; {run['stored'].summary()}")
    return runs
