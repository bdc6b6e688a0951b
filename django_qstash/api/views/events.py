"""GET /v2/events (what the SDKs call) and GET /v2/logs (what the docs call): the log."""

from __future__ import annotations

from rest_framework.response import Response

from ...exceptions import BadRequest
from ...models import Event, Message
from ..base import QStashView
from ..filters import apply_filters, cursor_page, multi
from ..serializers import event_json

PAGE_DEFAULT, PAGE_MAX = 100, 1000
IN_PROGRESS = ["ACTIVE", "RETRY", "ERROR"]


def states(request) -> list[str]:
    result = []
    for state in multi(request, "state"):
        state = state.upper()
        if state == "CANCELLED":  # the docs' spelling; we store the SDKs' one
            state = "CANCELED"
        if state == "IN_PROGRESS":
            result += IN_PROGRESS
        elif state in Event.State.values:
            result.append(state)
        else:
            raise BadRequest(f"unknown state {state!r}")
    return result


class EventListView(QStashView):
    def get(self, request):
        events = Event.objects.filter(tenant=self.tenant).order_by("-id")
        events = apply_filters(events, request, date_field="time", caller_ip=False)
        if message_ids := multi(request, "messageId") + multi(request, "messageIds"):
            events = events.filter(message_id__in=message_ids)
        if wanted := states(request):
            events = events.filter(state__in=wanted)
        rows, cursor = cursor_page(events, request, default=PAGE_DEFAULT, maximum=PAGE_MAX)
        messages = Message.objects.in_bulk({e.message_id for e in rows})
        entries = [event_json(e, messages.get(e.message_id), self.hides_credentials) for e in rows]
        data = {"events": entries, "logs": entries}
        if cursor:
            data["cursor"] = cursor
        return Response(data)
