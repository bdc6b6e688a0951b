"""The dead-letter queue in the admin: filter, retry one or many, edit and retry, delete."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import Truncator
from django.views.decorators.http import require_POST

from django_qstash.admin.base import (
    BigTableAdmin,
    TenantFilter,
    TextFilter,
    body_html,
    headers_html,
)
from django_qstash.admin.filters import (
    AwareDateFieldListFilter,
    DestinationFilter,
    LabelFilter,
    QueueFilter,
    prefixed,
)
from django_qstash.admin.timeline import timeline_html
from django_qstash.core.digits import is_number
from django_qstash.core.storable_text import escaped
from django_qstash.engine import observability
from django_qstash.engine.dlq_operations import (
    delete_matching,
    header_lines,
    parse_header_lines,
    retry_edited,
    retry_matching,
)
from django_qstash.engine.dlq_removal import remove_entries
from django_qstash.engine.workflow.delivered import materialized
from django_qstash.models import DlqEntry, Message

# One admin request retries or deletes at most this many entries ("select all" included);
# qstash_dlq has no such cap.
MAX_BULK = 2000


class ResponseStatusFilter(TextFilter):
    """``500``, or a class such as ``5xx``; ``0`` means no HTTP response arrived."""

    title = "response status (e.g. 500, 5xx, 0)"
    parameter_name = "response_status"

    def filter(self, queryset, value):
        if len(value) == 3 and value[0] in "12345" and value[1:].lower() == "xx":
            low = int(value[0]) * 100
            return queryset.filter(response_status__gte=low, response_status__lt=low + 100)
        return queryset.filter(response_status=int(value)) if is_number(value) else queryset.none()


class EditRetryForm(forms.Form):
    headers = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6,
                                                                           "cols": 80}),
                              help_text="Sent to the destination; one 'Name: value' per line.")
    body = forms.CharField(required=False, strip=False,
                           widget=forms.Textarea(attrs={"rows": 10, "cols": 80}))
    retries = forms.IntegerField(required=False, min_value=0, max_value=100,
                                 help_text="Leave empty to keep the original's retries.")

    def clean_headers(self) -> dict:
        try:
            return parse_header_lines(self.cleaned_data["headers"])
        except ValueError as exc:
            raise forms.ValidationError(str(exc)) from None


@admin.register(DlqEntry)
class DlqEntryAdmin(BigTableAdmin):
    # What went wrong first: at 1,400 px the status and the error stay in view.
    list_display = ("dlq_id", "response_status", "short_error", "destination", "message_link",
                    "queue", "created_at", "tenant")
    list_filter = (TenantFilter, prefixed(QueueFilter, "message__"),
                   prefixed(DestinationFilter, "message__"), ResponseStatusFilter,
                   prefixed(LabelFilter, "message__"), ("created_at", AwareDateFieldListFilter))
    list_select_related = ("tenant", "message")
    search_fields = ("dlq_id",)
    search_help_text = "An exact DLQ id or message id."
    ordering = ("-pk",)  # insertion order: the primary key index, no sort
    actions = ["retry_selected", "delete_selected_entries"]
    change_form_template = "admin/django_qstash/dlqentry/change_form.html"
    fields = ("dlq_id", "tenant", "message_link", "created_at", "response_status", "error",
              "response_headers_html", "response_body_html", "request_headers",
              "request_body", "timeline")
    readonly_fields = fields

    def get_queryset(self, request):
        # Bodies can be a megabyte each: the list shows none of them. Every entry's message
        # has failed; saying so lets filters on the message use its small partial index.
        return (super().get_queryset(request).filter(message__status=Message.Status.FAILED)
                .defer("response_body", "message__body"))

    def get_actions(self, request):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)  # lists every object: ours deletes in batches
        return actions

    def delete_model(self, request, obj) -> None:
        remove_entries(DlqEntry.objects.filter(pk=obj.pk))  # counted out of the DLQ's size

    def delete_queryset(self, request, queryset) -> None:
        remove_entries(queryset)

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_retry_permission(self, request) -> bool:
        return request.user.has_perm("django_qstash.change_dlqentry")

    def get_search_results(self, request, queryset, search_term):
        term = search_term.strip()
        if not term:
            return queryset, False
        field = "message_id" if term.startswith("msg_") else "dlq_id"
        return queryset.filter(**{field: term}), False

    @admin.display(description="message", ordering="message_id")
    def message_link(self, obj: DlqEntry) -> str:
        url = reverse("admin:django_qstash_message_change", args=[obj.message_id])
        return format_html('<a href="{}">{}</a>', url, obj.message_id)

    @admin.display(description="destination")
    def destination(self, obj: DlqEntry) -> str:
        return Truncator(obj.message.url).chars(48)

    @admin.display(description="queue")
    def queue(self, obj: DlqEntry) -> str:
        return obj.message.queue_name or "-"

    @admin.display(description="error")
    def short_error(self, obj: DlqEntry) -> str:
        return Truncator(obj.error).chars(48)

    @admin.display(description="response headers")
    def response_headers_html(self, obj: DlqEntry) -> str:
        return headers_html(obj.response_headers)

    @admin.display(description="response body")
    def response_body_html(self, obj: DlqEntry) -> str:
        return body_html(obj.response_body)

    @admin.display(description="request headers")
    def request_headers(self, obj: DlqEntry) -> str:
        return headers_html(obj.message.headers)

    @admin.display(description="request body")
    def request_body(self, obj: DlqEntry) -> str:
        return body_html(materialized(obj.message))

    @admin.display(description="message timeline")
    def timeline(self, obj: DlqEntry) -> str:
        return timeline_html(obj.message)

    @admin.action(description="Retry selected DLQ entries", permissions=["retry"])
    def retry_selected(self, request: HttpRequest, queryset) -> None:
        new_ids = retry_matching(queryset, limit=MAX_BULK)
        more = len(new_ids) == MAX_BULK and queryset.exists()
        observability.operator_action(request.user, "dlq_retry", count=len(new_ids))
        tail = f"; more match: run it again for the next {MAX_BULK}" if more else ""
        self.message_user(request, f"Retried {len(new_ids)} DLQ entries as new messages{tail}",
                          messages.SUCCESS)

    @admin.action(description="Delete selected DLQ entries", permissions=["delete"])
    def delete_selected_entries(self, request: HttpRequest, queryset):
        if request.POST.get("confirm") != "yes":
            count = queryset.order_by().values("pk")[:MAX_BULK].count()
            context = {**self.admin_site.each_context(request), "opts": self.opts,
                       "count": count, "capped": count >= MAX_BULK, "post": request.POST,
                       "title": "Delete DLQ entries?"}
            return TemplateResponse(request, "admin/django_qstash/dlqentry/delete_bulk.html",
                                    context)
        deleted = delete_matching(queryset, limit=MAX_BULK)
        observability.operator_action(request.user, "dlq_delete", count=deleted)
        self.message_user(request, f"Deleted {deleted} DLQ entries", messages.SUCCESS)
        return None

    def get_urls(self):
        wrap = self.admin_site.admin_view
        return [
            path("<path:object_id>/retry/", wrap(require_POST(self.retry_view)),
                 name="django_qstash_dlqentry_retry"),
            path("<path:object_id>/edit-retry/", wrap(self.edit_retry_view),
                 name="django_qstash_dlqentry_edit_retry"),
            *super().get_urls(),
        ]

    def _entry(self, request: HttpRequest, object_id: str) -> DlqEntry:
        if not self.has_retry_permission(request):
            raise PermissionDenied
        return get_object_or_404(self.get_queryset(request).select_related("message")
                                 .defer(None), pk=object_id)

    def _retried(self, request: HttpRequest, entry: DlqEntry, new_id: str, action: str):
        observability.operator_action(request.user, action, dlq_id=entry.dlq_id,
                                      new_message_id=new_id)
        self.message_user(request, f"Retried {entry.dlq_id} as {new_id}", messages.SUCCESS)
        return HttpResponseRedirect(reverse("admin:django_qstash_message_change", args=[new_id]))

    def retry_view(self, request: HttpRequest, object_id: str):
        entry = self._entry(request, object_id)
        [new_id] = retry_matching(DlqEntry.objects.filter(pk=entry.pk))
        return self._retried(request, entry, new_id, "dlq_retry_one")

    def edit_retry_view(self, request: HttpRequest, object_id: str):
        entry = self._entry(request, object_id)
        message = entry.message
        raw = materialized(message)  # a workflow step: the body it was sent with
        try:
            text, binary = raw.decode("utf-8"), False
        except UnicodeDecodeError:
            text, binary = "", True
        form = EditRetryForm(request.POST or None,
                             initial={"headers": escaped(header_lines(message.headers)),
                                      "body": text})
        if binary:
            form.fields["body"].disabled = True
            form.fields["body"].help_text = "Binary body: it is retried unchanged."
        if request.method == "POST" and form.is_valid():
            body = raw if binary else form.cleaned_data["body"].encode()
            new_id = retry_edited(entry, headers=form.cleaned_data["headers"], body=body,
                                  retries=form.cleaned_data["retries"])
            return self._retried(request, entry, new_id, "dlq_edit_retry")
        context = {**self.admin_site.each_context(request), "opts": self.opts, "form": form,
                   "entry": entry, "title": f"Edit and retry {entry.dlq_id}"}
        return TemplateResponse(request, "admin/django_qstash/dlqentry/edit_retry.html", context)

    def render_change_form(self, request, context, *args, **kwargs):
        context["can_retry"] = self.has_retry_permission(request)
        return super().render_change_form(request, context, *args, **kwargs)
