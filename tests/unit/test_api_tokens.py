"""Token secrets in QStash's encoded form, and the older form they replace."""

from __future__ import annotations

import base64
import json

from django_qstash.core import api_tokens


def test_a_minted_token_is_base64_json_with_the_account_id_and_a_fresh_password():
    first, second = api_tokens.mint("acc-1"), api_tokens.mint("acc-1")
    payload = json.loads(base64.b64decode(first, validate=True))
    assert payload["UserID"] == "acc-1" and payload["Password"].startswith("qst_")
    assert first != second
    assert api_tokens.account_id_of(first) == "acc-1"
    assert api_tokens.shown_prefix(first) == payload["Password"][:8]


def test_older_and_foreign_secrets_have_no_account_id_and_show_their_own_start():
    for secret in ("qst_" + "x" * 40, "pinned-by-hand-1234", base64.b64encode(b"[1]").decode(),
                   base64.b64encode(b'{"UserID": 5}').decode(), "", "%%%"):
        assert api_tokens.account_id_of(secret) is None
        assert api_tokens.shown_prefix(secret) == secret[:8]
