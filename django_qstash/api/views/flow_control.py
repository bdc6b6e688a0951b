"""Flow-control keys: list/get their state, pause/resume, pin/unpin, reset; global parallelism."""

from __future__ import annotations

from django.db import transaction
from rest_framework.response import Response

from django_qstash.api.base import QStashView
from django_qstash.api.filters import integer
from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.engine.flow_control import fresh_rate_window, key_state
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import FlowControlKey, Message


def get_key(tenant, key: str, *, lock: bool = False) -> FlowControlKey:
    rows = FlowControlKey.objects.filter(tenant=tenant, key=key)
    row = (rows.select_for_update() if lock else rows).first()
    if row is None:
        raise NotFound(f"flow-control key {key!r} not found")
    return row


def flag(request, name: str) -> bool:
    raw = (request.GET.get(name) or "false").lower()
    if raw not in ("true", "false"):
        raise BadRequest(f"{name} must be true or false")
    return raw == "true"


class FlowControlListView(QStashView):
    def get(self, request):
        rows = FlowControlKey.objects.filter(tenant=self.tenant).order_by("key")
        if search := request.GET.get("search"):
            rows = rows.filter(key__icontains=search)
        now = clock.now()
        return Response([key_state(row, now) for row in rows[:1000]])


class FlowControlDetailView(QStashView):
    def get(self, request, key: str):
        return Response(key_state(get_key(self.tenant, key), clock.now()))


class FlowControlActionView(QStashView):
    def post(self, request, key: str, action: str):
        # Under the key's lock, as claims and send slots are: nothing they write is lost, and
        # a reset sees exactly the messages claimed before it.
        with transaction.atomic():
            self._act(request, get_key(self.tenant, key, lock=True), action)
        return Response(status=200)

    def _act(self, request, row: FlowControlKey, action: str) -> None:
        if action in ("pause", "resume"):
            row.paused = action == "pause"
        elif action == "pin":
            self._pin(request, row)
        elif action == "unpin":
            row.pinned_parallelism = row.pinned_parallelism and not flag(request, "parallelism")
            row.pinned_rate = row.pinned_rate and not flag(request, "rate")
        elif action in ("resetRate", "reset"):
            fresh_rate_window(row)  # parallelism is counted from live rows: nothing to reset
        row.save()

    def _pin(self, request, row: FlowControlKey) -> None:
        # Clamped to what the 32-bit columns hold; more than that is "no limit" in practice.
        parallelism = integer(request, "parallelism", maximum=2**31 - 1)
        rate = integer(request, "rate", maximum=2**31 - 1)
        period = integer(request, "period")
        if parallelism is None and rate is None and period is None:
            raise BadRequest("pin needs parallelism, rate or period")
        if period is not None and not 1 <= period <= 7 * 24 * 3600:
            raise BadRequest("period must be between 1 and 604800 seconds")
        if parallelism is not None:
            row.parallelism_max, row.pinned_parallelism = parallelism or None, True
        if rate is not None or period is not None:
            row.rate_max = row.rate_max if rate is None else (rate or None)
            row.rate_period = period or row.rate_period
            row.pinned_rate = True
        fresh_rate_window(row)  # pinning starts a fresh rate window


class GlobalParallelismView(QStashView):
    def get(self, request):
        active = Message.objects.filter(tenant=self.tenant, status=Message.Status.ACTIVE).count()
        return Response({"parallelismMax": qstash_settings.GLOBAL_PARALLELISM,
                         "parallelismCount": active})
