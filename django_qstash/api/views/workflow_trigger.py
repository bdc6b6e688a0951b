"""POST /v2/trigger/{workflowUrl} and /v2/batch/trigger: start workflow runs over REST."""

from __future__ import annotations

import json

from django_qstash.api.base import caller_ip, header_pairs, json_body, raw_body
from django_qstash.api.lean import LeanQStashView, json_response
from django_qstash.api.views.publish import config_query, destination_from_request
from django_qstash.conf import qstash_settings
from django_qstash.engine.workflow import rest_trigger
from django_qstash.exceptions import ApiError, BadRequest


class TriggerView(LeanQStashView):
    def post(self, request, destination: str):
        trigger = rest_trigger.prepare_trigger(
            self.tenant, destination_from_request(request, destination), raw_body(request),
            header_pairs(request), config_query(request), caller_ip=caller_ip(request))
        self.count_messages(1)
        return json_response(rest_trigger.start(self.tenant, trigger))


class BatchTriggerView(LeanQStashView):
    def post(self, request):
        """``[{destination, body, headers}]``; an item that cannot start answers its own
        ``{error}`` while the others start."""
        items = json_body(request)
        if not isinstance(items, list):
            raise BadRequest("batch trigger body must be a JSON array of "
                             "{destination, body, headers}")
        if len(items) > qstash_settings.MAX_BATCH_SIZE:
            raise BadRequest(f"a batch may hold at most {qstash_settings.MAX_BATCH_SIZE} runs")
        results: list = []
        for item in items:
            try:
                results.append(self._prepare(request, item))
            except ApiError as exc:
                results.append({"error": exc.message})
        self.count_messages(sum(isinstance(r, rest_trigger.Trigger) for r in results))
        for index, prepared in enumerate(results):
            if isinstance(prepared, rest_trigger.Trigger):
                try:
                    started = rest_trigger.start(self.tenant, prepared)
                    results[index] = {**started, "deduplicated": bool(started.get("deduplicated"))}
                except ApiError as exc:
                    results[index] = {"error": exc.message}
        return json_response(results, status=201)

    def _prepare(self, request, item) -> rest_trigger.Trigger:
        if not isinstance(item, dict):
            raise BadRequest("each item must be an object {destination, body, headers}")
        headers, body = item.get("headers") or {}, item.get("body")
        if not isinstance(headers, dict):
            raise BadRequest("headers must be an object")
        if not isinstance(body, (str, type(None))):
            body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        return rest_trigger.prepare_trigger(
            self.tenant, str(item.get("destination") or ""), (body or "").encode(),
            [(str(name), str(value)) for name, value in headers.items()],
            caller_ip=caller_ip(request))
