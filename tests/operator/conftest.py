"""Fixtures for operator tests: a tenant with keys, and a second one for scoping checks."""

from __future__ import annotations

import pytest


@pytest.fixture
def tenant(db):
    from django_qstash.engine.tenants import create_tenant

    return create_tenant("ops")


@pytest.fixture
def tenant_b(db):
    from django_qstash.engine.tenants import create_tenant

    return create_tenant("ops-b")
