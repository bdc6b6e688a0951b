"""/v2/workflows/hooks/{UserID}/{runId}/{eventId}: the public URL of a workflow's webhook."""

from __future__ import annotations

import base64

from django_qstash.api.base import QStashView, header_pairs, raw_body
from django_qstash.api.lean import json_response
from django_qstash.api.ratelimit import check_burst
from django_qstash.core.header_names import NEVER_FORWARDED, canonical
from django_qstash.engine.workflow import webhooks


def recorded_call(request) -> dict:
    """The call as waitForWebhook rebuilds it into a Request: method, headers (as sent, but
    for the ones that describe the connection), base64 body, scheme, host and path."""
    header: dict[str, list[str]] = {}
    for name, value in header_pairs(request):
        lower = name.lower()
        if lower not in NEVER_FORWARDED and not lower.startswith("proxy-"):
            header.setdefault(canonical(name), []).append(value)
    call = {"method": request.method, "header": header,
            "proto": "https" if request.is_secure() else "http",
            "host": request.META.get("HTTP_HOST") or request.META.get("SERVER_NAME", ""),
            "url": request.get_full_path()}
    body = raw_body(request)
    # No body at all rather than an empty one: a Request for GET or HEAD may not have one,
    # and older SDKs pass on whatever is given.
    if body and request.method not in ("GET", "HEAD"):
        call["body"] = base64.b64encode(body).decode()
    return call


class WebhookView(QStashView):
    """Called by third parties, who hold no token: the URL itself is the credential."""

    authentication_classes: list = []
    permission_classes: list = []

    def check_throttles(self, request) -> None:
        # No token to count: the account the URL names is charged instead (a budget of its
        # own, API_BURST_RATE_LIMIT calls a second), before anything is looked up.
        self.rate_limit_headers = check_burst(f"webhook:{self.kwargs['account_id']}",
                                              "this account's webhooks")

    def receive(self, request, account_id: str, run_id: str, event_id: str):
        return json_response(webhooks.receive(account_id, run_id, event_id,
                                              recorded_call(request)))

    get = post = put = patch = delete = receive
