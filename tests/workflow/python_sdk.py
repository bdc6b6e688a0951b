"""The Python Workflow SDK for the tests: present and of the pinned series, or a loud skip."""

from __future__ import annotations

from tests.support.node_packages import unavailable
from tests.workflow.helpers import api

SERIES = "2.0."


def require_python_sdk() -> None:
    """Fail under CI=true, elsewhere skip loudly, without ``upstash-workflow`` 2.0.x."""
    try:
        import upstash_workflow
    except ImportError as exc:
        unavailable("Python Workflow SDK run",
                    f"`upstash-workflow` is not installed ({exc}); pip install -e '.[test]'")
    version = getattr(upstash_workflow, "__version__", "")
    if not version.startswith(SERIES):
        unavailable("Python Workflow SDK run",
                    f"`upstash-workflow` {SERIES}x is pinned, found {version or 'unknown'}")


def start_app(server):
    """A loopback app serving Python SDK workflows against ``server`` (anything with url and
    auth; its signing keys are read from ``GET /v2/keys``)."""
    from tests.workflow.python_app import WorkflowApp

    keys = api(server, "GET", "/v2/keys")
    assert keys.status_code == 200, keys.text
    token = server.auth["Authorization"].removeprefix("Bearer ")
    return WorkflowApp(server.url, token, keys.json()["current"], keys.json()["next"])


def start_run(server, url: str, body: dict, **headers: str) -> None:
    """A plain message to the workflow endpoint: the SDK answers its first delivery by
    triggering the run itself (the Python SDK has no client.trigger)."""
    response = api(server, "POST", f"/v2/publish/{url}", json=body,
                   headers={"Content-Type": "application/json", **headers})
    assert response.status_code in (200, 201), response.text
