"""Shared fixtures: a recording HTTP sink and a live API server with its delivery engine."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from tests.support.sink import start_sink


@pytest.fixture
def sink():
    sink = start_sink()
    yield sink
    sink.close()


@dataclass
class LiveQStash:
    url: str
    token: str
    current_key: str
    next_key: str
    tenant: object

    @property
    def auth(self) -> dict:
        return {"Authorization": f"Bearer {self.token}"}


def _issue_tenant(name: str):
    from django_qstash.engine.tenants import create_tenant
    from django_qstash.models import ApiToken, SigningKeyPair

    tenant = create_tenant(name)
    _, token = ApiToken.issue(tenant, name="test")
    keys = SigningKeyPair.for_tenant(tenant)
    return tenant, token, keys


@pytest.fixture
def qstash(live_server, transactional_db, qstash_runtime):
    """The API on a live HTTP server, a dispatcher thread and in-process workers."""
    from django_qstash.engine.dispatcher import Dispatcher

    tenant, token, keys = _issue_tenant("tests")
    dispatcher = Dispatcher(interval=0.05)
    dispatcher.start_thread()
    yield LiveQStash(live_server.url, token, keys.current, keys.next, tenant)
    dispatcher.stop()
    qstash_runtime.wait_idle(timeout=30)


@pytest.fixture
def other_tenant(transactional_db):
    tenant, token, keys = _issue_tenant("other")
    return LiveQStash("", token, keys.current, keys.next, tenant)
