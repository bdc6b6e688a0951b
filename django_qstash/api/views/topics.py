"""URL groups ("topics"): endpoints upsert/remove, get, list, delete, default headers."""

from __future__ import annotations

from django.db import transaction
from rest_framework.response import Response

from django_qstash.api.base import QStashView, json_body
from django_qstash.conf import qstash_settings
from django_qstash.core.clock import to_ms
from django_qstash.core.destination_url import parse_destination
from django_qstash.core.request_headers import validate_name
from django_qstash.engine.publishing import check_default_headers
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import UrlGroup, UrlGroupEndpoint


def group_json(group: UrlGroup) -> dict:
    return {
        "name": group.name,
        "createdAt": to_ms(group.created_at),
        "updatedAt": to_ms(group.updated_at),
        "endpoints": [{"url": e.url, **({"name": e.name} if e.name else {})}
                      for e in group.endpoints.all()],
    }


def endpoints_from(request) -> list[dict]:
    body = json_body(request, default={})
    endpoints = body.get("endpoints") if isinstance(body, dict) else None
    if not isinstance(endpoints, list) or not endpoints:
        raise BadRequest('body must be {"endpoints": [{"url": ..., "name": ...}]}')
    for endpoint in endpoints:
        if not isinstance(endpoint, dict) or not (endpoint.get("url") or endpoint.get("name")):
            raise BadRequest("each endpoint needs a url or a name")
        url, name = endpoint.get("url"), endpoint.get("name")
        if url is not None and not isinstance(url, str):
            raise BadRequest(f"endpoint url must be an http(s) URL, got {url!r}")
        if name is not None and (not isinstance(name, str) or len(name) > 200):
            raise BadRequest("endpoint name must be a string of at most 200 characters")
    return endpoints


def check_endpoint_cap(group: UrlGroup, urls: set[str]) -> None:
    """Refuse what would take ``group`` past MAX_URL_GROUP_ENDPOINTS (re-adding is free)."""
    most = qstash_settings.MAX_URL_GROUP_ENDPOINTS
    existing = set(group.endpoints.values_list("url", flat=True))
    total = len(existing | urls)
    if total > most:
        raise BadRequest(f"URL group {group.name!r} would have {total} endpoints: "
                         f"at most {most} (MAX_URL_GROUP_ENDPOINTS)")


def stored_spellings(url: str) -> set[str]:
    """An endpoint URL as it may be stored: as given (rows written before URLs were
    normalised) and normalised. Removing an endpoint never needs a valid URL."""
    try:
        return {url, parse_destination(url)}
    except BadRequest:
        return {url}


class UrlGroupListView(QStashView):
    def get(self, request):
        groups = UrlGroup.objects.filter(tenant=self.tenant).prefetch_related("endpoints")
        return Response([group_json(g) for g in groups.order_by("name")])


class UrlGroupEndpointsView(QStashView):
    def post(self, request, name: str):
        validate_name(name, "URL group name")
        endpoints = endpoints_from(request)
        if any(not e.get("url") for e in endpoints):
            raise BadRequest("each endpoint to add needs a url")
        # Stored as dialled, so the policy judges the host that is connected to.
        endpoints = [{**e, "url": parse_destination(e["url"], "endpoint url")} for e in endpoints]
        with transaction.atomic():
            group, _ = UrlGroup.objects.get_or_create(tenant=self.tenant, name=name)
            # Locked: two requests adding at once must not both pass the cap.
            group = UrlGroup.objects.select_for_update().get(pk=group.pk)
            check_endpoint_cap(group, {e["url"] for e in endpoints})
            for endpoint in endpoints:
                UrlGroupEndpoint.objects.update_or_create(
                    group=group, url=endpoint["url"],
                    defaults={"name": endpoint.get("name") or ""})
            group.save(update_fields=["updated_at"])
        return Response(status=200)

    def delete(self, request, name: str):
        endpoints = endpoints_from(request)
        with transaction.atomic():
            group = UrlGroup.objects.filter(tenant=self.tenant, name=name).first()
            if group is None:
                raise NotFound(f"URL group {name!r} not found")
            for endpoint in endpoints:
                matching = group.endpoints.all()
                if endpoint.get("url"):
                    matching = matching.filter(url__in=stored_spellings(endpoint["url"]))
                if endpoint.get("name"):
                    matching = matching.filter(name=endpoint["name"])
                matching.delete()
            if not group.endpoints.exists():
                group.delete()  # a group lives only as long as it has endpoints
            else:
                group.save(update_fields=["updated_at"])
        return Response(status=200)


class UrlGroupDetailView(QStashView):
    def get(self, request, name: str):
        group = (UrlGroup.objects.filter(tenant=self.tenant, name=name)
                 .prefetch_related("endpoints").first())
        if group is None:
            raise NotFound(f"URL group {name!r} not found")
        return Response(group_json(group))

    def delete(self, request, name: str):
        # Deleting a group that does not exist succeeds, as QStash does.
        UrlGroup.objects.filter(tenant=self.tenant, name=name).delete()
        return Response(status=200)

    def patch(self, request, name: str):
        body = json_body(request, default={})
        headers = body.get("headers") if isinstance(body, dict) else None
        if not isinstance(headers, dict):
            raise BadRequest('body must be {"headers": {"Name": "value" or ["values"]}}')
        check_default_headers(headers)
        updated = UrlGroup.objects.filter(tenant=self.tenant, name=name).first()
        if updated is None:
            raise NotFound(f"URL group {name!r} not found")
        updated.default_headers = headers
        updated.save(update_fields=["default_headers", "updated_at"])
        return Response(group_json(updated))
