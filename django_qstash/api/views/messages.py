"""GET/DELETE /v2/messages/{id} and bulk DELETE /v2/messages."""

from __future__ import annotations

from rest_framework.response import Response

from django_qstash.api.base import QStashView, json_body
from django_qstash.api.filters import apply_filters, integer, multi
from django_qstash.api.serializers import message_detail_json, message_state
from django_qstash.engine.cancellation import cancel
from django_qstash.engine.workflow.delivered import fill_bodies
from django_qstash.exceptions import BadRequest, NotFound
from django_qstash.models import Message

MAX_BULK_CANCEL = 500


class MessageDetailView(QStashView):
    def _messages(self, message_id):
        return Message.objects.filter(tenant=self.tenant, id=message_id)

    def get(self, request, message_id: str):
        message = self._messages(message_id).first()
        if message is None:
            raise NotFound(f"message {message_id} not found")
        fill_bodies([message])  # a workflow step shows the body it is sent with
        return Response(message_detail_json(message, self.hides_credentials))

    def delete(self, request, message_id: str):
        cancelled = cancel(self._messages(message_id))
        if cancelled:
            return Response({"cancelled": cancelled})
        message = self._messages(message_id).first()
        if message is None:
            raise NotFound(f"message {message_id} not found")
        if message.is_finished:
            raise NotFound(f"message {message_id} is already {message_state(message).lower()}")
        # In flight with a cancel already requested: it stops after its current attempt.
        raise NotFound(f"a cancel of message {message_id} was already requested; it stops "
                       "after the attempt in flight")


class MessageListView(QStashView):
    def delete(self, request):
        body = json_body(request, default={})
        if not isinstance(body, dict):
            raise BadRequest("body must be a JSON object")
        ids = body.get("messageIds") or multi(request, "messageIds")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            raise BadRequest("messageIds must be a list of strings")
        messages = Message.objects.filter(tenant=self.tenant)
        if ids:
            messages = messages.filter(id__in=ids)
        else:
            messages = apply_filters(messages, request, date_field="created_at")
            count = integer(request, "count")
            if count is not None:
                if not 1 <= count <= MAX_BULK_CANCEL:
                    raise BadRequest(f"count must be between 1 and {MAX_BULK_CANCEL}")
                head = messages.cancellable().order_by("created_at").values_list("id", flat=True)
                messages = Message.objects.filter(id__in=list(head[:count]))
        return Response({"cancelled": cancel(messages)})
