"""GET /v2/events (what the SDKs call) and GET /v2/logs (what the docs call): the log."""

from __future__ import annotations

from django.db.models.functions import Length
from rest_framework.response import Response

from django_qstash.api.base import QStashView
from django_qstash.api.budget import affordable, body_lengths, encoded_bytes, load_bodies
from django_qstash.api.filters import apply_filters, cursor_page, multi
from django_qstash.api.serializers import event_json
from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.exceptions import BadRequest
from django_qstash.models import Event, Message

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
    # The SDKs read "events" from /v2/events, the docs "logs" from /v2/logs. One key per
    # answer: both would serialize every body twice.
    rows_key = "events"

    def get(self, request):
        # Bodies are read only for the rows the page keeps (see fits).
        events = (Event.objects.filter(tenant=self.tenant).order_by("-id").defer("response_body")
                  .annotate(response_bytes=Length("response_body")))
        events = apply_filters(events, request, date_field="time", caller_ip=False)
        if message_ids := multi(request, "messageId") + multi(request, "messageIds"):
            events = events.filter(message_id__in=message_ids)
        if wanted := states(request):
            events = events.filter(state__in=wanted)
        rows, cursor = cursor_page(events, request, default=PAGE_DEFAULT, maximum=PAGE_MAX,
                                   fits=self.fits)
        load_bodies(rows, "response_body", Event.objects.all())
        messages = Message.objects.in_bulk({e.message_id for e in rows})
        fill_bodies(list(messages.values()))  # workflow steps show the bodies they are sent with
        entries = [event_json(e, messages.get(e.message_id), self.hides_credentials) for e in rows]
        data = {self.rows_key: entries}
        if cursor:
            data["cursor"] = cursor
        return Response(data)

    def fits(self, rows: list[Event]) -> int:
        """Every event embeds its message's body: a page of a big message's events adds up."""
        bodies = body_lengths(Message.objects.filter(tenant=self.tenant), "body",
                              list({e.message_id for e in rows}))
        return affordable([encoded_bytes(e.response_bytes) + encoded_bytes(bodies.get(e.message_id))
                           for e in rows])
