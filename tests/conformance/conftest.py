"""The official Python SDK pointed at the live test server."""

from __future__ import annotations

import pytest
from qstash import QStash


@pytest.fixture
def client(qstash):
    return QStash(qstash.token, base_url=qstash.url, retry=False)
