"""API token secrets in QStash's format: base64 of ``{"UserID": …, "Password": …}``.

The Workflow SDK decodes the token to learn the account id it puts in webhook URLs
(``/v2/workflows/hooks/{UserID}/…``); only a digest of the whole secret is stored.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid

from django_qstash.core import ids

PREFIX_LENGTH = 8


def new_account_id() -> str:
    return str(uuid.uuid4())


def mint(account_id: str) -> str:
    password = f"qst_{ids.base58(40)}"
    payload = json.dumps({"UserID": account_id, "Password": password}, separators=(",", ":"))
    return base64.b64encode(payload.encode()).decode()


def _payload(secret: str) -> dict | None:
    try:
        payload = json.loads(base64.b64decode(secret, validate=True))
    except (binascii.Error, ValueError):
        return None
    return payload if isinstance(payload, dict) else None


def account_id_of(secret: str) -> str | None:
    """The UserID a token carries; None for tokens of the older ``qst_…`` form."""
    user_id = (_payload(secret) or {}).get("UserID")
    return user_id if isinstance(user_id, str) else None


def shown_prefix(secret: str) -> str:
    """What identifies a token in lists: the start of its password (every encoded token
    starts with the same characters)."""
    password = (_payload(secret) or {}).get("Password")
    return (password if isinstance(password, str) else secret)[:PREFIX_LENGTH]
