"""POST /v2/publish/{destination}, /v2/enqueue/{queue}/{destination} and /v2/batch."""

from __future__ import annotations

import json

from django.utils.encoding import escape_uri_path

from django_qstash.api.base import caller_ip, header_pairs, json_body, raw_body
from django_qstash.api.lean import LeanQStashView, json_response
from django_qstash.conf import qstash_settings
from django_qstash.engine.publishing import Published, prepare, publish_specs
from django_qstash.exceptions import ApiError, BadRequest


def _is_config_param(name: str) -> bool:
    """Query parameters that configure the publish rather than belong to the destination."""
    lowered = name.lower()
    return lowered == "qstash_token" or lowered.startswith("upstash-")


def destination_from_request(request, destination: str) -> str:
    """The raw destination: path remainder plus the query string minus our own parameters."""
    if destination.startswith(("http:/", "https:/")) and not destination.startswith(
            ("http://", "https://")):
        # Some proxies merge "//" into "/"; put the scheme's slashes back.
        scheme, _, rest = destination.partition(":/")
        destination = f"{scheme}://{rest}"
    if destination.startswith(("http://", "https://")):
        scheme, _, rest = destination.partition("://")
        authority, slash, path = rest.partition("/")
        # Brackets belong to IPv6 literals ("[::1]:8080"); escaped, the URL would not parse.
        # Non-ASCII stays as sent: the destination parser IDNA-encodes an international host.
        authority = _escape_ascii(authority).replace("%5B", "[").replace("%5D", "]")
        destination = f"{scheme}://{authority}{slash}{escape_uri_path(path)}"
    raw_query = request.META.get("QUERY_STRING", "")
    kept = [p for p in raw_query.split("&") if p and not _is_config_param(p.split("=", 1)[0])]
    return f"{destination}?{'&'.join(kept)}" if kept else destination


def _escape_ascii(authority: str) -> str:
    if authority.isascii():
        return escape_uri_path(authority)
    return "".join(escape_uri_path(c) if c.isascii() else c for c in authority)


def config_query(request) -> list[tuple[str, str]]:
    if not request.META.get("QUERY_STRING"):
        return []  # without parsing an empty QueryDict
    return [(k, v) for k in request.GET for v in request.GET.getlist(k) if _is_config_param(k)]


def publish_response(result: Published | list[Published]):
    if isinstance(result, list):
        return json_response([r.as_json() for r in result])
    return json_response(result.as_json(), status=202 if result.deduplicated else 200)


class PublishView(LeanQStashView):
    def post(self, request, destination: str):
        spec = prepare(self.tenant, destination_from_request(request, destination),
                       raw_body(request), header_pairs(request), config_query(request),
                       caller_ip=caller_ip(request))
        self.count_messages(len(spec.targets))
        return publish_response(publish_specs(self.tenant, [spec])[0])


class EnqueueView(LeanQStashView):
    def post(self, request, queue: str, destination: str):
        spec = prepare(self.tenant, destination_from_request(request, destination),
                       raw_body(request), header_pairs(request), config_query(request),
                       queue_name=queue, caller_ip=caller_ip(request))
        self.count_messages(len(spec.targets))
        return publish_response(publish_specs(self.tenant, [spec])[0])


class BatchView(LeanQStashView):
    def post(self, request):
        items = json_body(request)
        if not isinstance(items, list):
            raise BadRequest("batch body must be a JSON array of messages")
        if len(items) > qstash_settings.MAX_BATCH_SIZE:
            raise BadRequest(f"a batch may hold at most {qstash_settings.MAX_BATCH_SIZE} messages")
        results: list = [None] * len(items)
        specs, positions = [], []
        for index, item in enumerate(items):
            try:
                specs.append(self._spec(request, item))
                positions.append(index)
            except ApiError as exc:
                results[index] = {"error": exc.message}
        self.count_messages(sum(len(spec.targets) for spec in specs))
        for index, result in zip(positions, publish_specs(self.tenant, specs)):
            results[index] = ([r.as_json() for r in result] if isinstance(result, list)
                              else result.as_json())
        return json_response(results)

    def _spec(self, request, item):
        if not isinstance(item, dict):
            raise BadRequest("each batch item must be an object")
        headers = item.get("headers") or {}
        body = item.get("body")
        if not isinstance(headers, dict):
            raise BadRequest("headers must be an object")
        if not isinstance(body, (str, type(None))):
            # A JSON value other than a string is the body as JSON text: the Workflow SDK
            # hands context.call's body over as given, an object included.
            body = json.dumps(body, separators=(",", ":"), ensure_ascii=False)
        pairs = [(str(k), str(v)) for k, v in headers.items()]
        return prepare(self.tenant, str(item.get("destination") or ""),
                       (body or "").encode(), pairs, queue_name=str(item.get("queue") or ""),
                       caller_ip=caller_ip(request))
