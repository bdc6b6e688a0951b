"""The dev server's credentials: from the environment when set, else stable across restarts."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from django_qstash.conf import qstash_settings
from django_qstash.core import api_tokens
from django_qstash.core.signing import generate_signing_key
from django_qstash.engine.tenants import DEFAULT_TENANT, create_tenant, ensure_credentials
from django_qstash.models import SigningKeyPair


@dataclass
class DevCredentials:
    token: str
    current_key: str
    next_key: str


def load_or_create(state_file: Path) -> DevCredentials:
    """Settings and environment win; otherwise reuse what the state file and the database
    remember."""
    tenant = create_tenant(DEFAULT_TENANT)
    stored = json.loads(state_file.read_text()) if state_file.exists() else {}
    keys = SigningKeyPair.for_tenant(tenant)
    token = os.environ.get("QSTASH_TOKEN") or stored.get("token") or api_tokens.mint(
        tenant.account_id)
    # Keys live in the database so that POST /v2/keys/rotate survives a restart.
    # QSTASH's keys (or the environment's): receivers configured with them accept what we sign.
    current = qstash_settings.CURRENT_SIGNING_KEY or keys.current or generate_signing_key()
    nxt = qstash_settings.NEXT_SIGNING_KEY or keys.next or generate_signing_key()
    ensure_credentials(tenant, token=token, current_key=current, next_key=nxt)
    credentials = DevCredentials(token, current, nxt)
    state_file.parent.mkdir(parents=True, exist_ok=True)
    # Other entries (the admin login) stay.
    state_file.write_text(json.dumps({**stored, "token": token}))
    state_file.chmod(0o600)
    return credentials


def export_lines(url: str, credentials: DevCredentials) -> list[str]:
    return [
        f"QSTASH_URL={url}",
        f"QSTASH_TOKEN={credentials.token}",
        f"QSTASH_CURRENT_SIGNING_KEY={credentials.current_key}",
        f"QSTASH_NEXT_SIGNING_KEY={credentials.next_key}",
    ]
