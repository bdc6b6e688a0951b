"""URL groups with their endpoints inline; names and URLs are checked as the API checks them."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.db.models import Count

from django_qstash.admin.base import TenantFilter, TenantScopedAdmin
from django_qstash.conf import qstash_settings
from django_qstash.core.destination_url import parse_destination
from django_qstash.core.request_headers import validate_name
from django_qstash.core.storable_text import escaped
from django_qstash.engine.publishing import check_default_headers
from django_qstash.exceptions import ApiError
from django_qstash.models import UrlGroup, UrlGroupEndpoint


def _api_check(check, *args) -> str:
    try:
        return check(*args)
    except ApiError as exc:
        raise forms.ValidationError(exc.message) from None


class EndpointForm(forms.ModelForm):
    class Meta:
        model = UrlGroupEndpoint
        fields = ["url", "name"]
        widgets = {"url": forms.TextInput(attrs={"size": 80})}

    def clean_url(self) -> str:
        return _api_check(parse_destination, (self.cleaned_data.get("url") or "").strip())

    def clean_name(self) -> str:
        name = (self.cleaned_data.get("name") or "").strip()
        return _api_check(validate_name, name, "Endpoint name") if name else ""


class EndpointInline(admin.TabularInline):
    model = UrlGroupEndpoint
    form = EndpointForm
    extra = 1
    fields = ("url", "name", "created_at")
    readonly_fields = ("created_at",)

    def get_max_num(self, request, obj=None, **kwargs) -> int:
        return qstash_settings.MAX_URL_GROUP_ENDPOINTS

    def get_formset(self, request, obj=None, **kwargs):
        # Without validate_max a posted form could still carry any number of endpoints.
        return super().get_formset(request, obj, validate_max=True, **kwargs)


class EscapedJSONField(forms.JSONField):
    """A JSON editor whose text always encodes: a stored lone surrogate shows as "\\ud800"."""

    def prepare_value(self, value):
        return escaped(super().prepare_value(value))


class UrlGroupForm(forms.ModelForm):
    default_headers = EscapedJSONField(required=False)

    class Meta:
        model = UrlGroup
        fields = ["tenant", "name", "default_headers"]

    def clean_name(self) -> str:
        return _api_check(validate_name, (self.cleaned_data.get("name") or "").strip(),
                          "URL group name")

    def clean_default_headers(self) -> dict:
        return _api_check(check_default_headers, self.cleaned_data.get("default_headers") or {})


@admin.register(UrlGroup)
class UrlGroupAdmin(TenantScopedAdmin):
    form = UrlGroupForm
    list_display = ("name", "tenant", "endpoint_count", "created_at", "updated_at")
    list_filter = (TenantFilter,)
    list_select_related = ("tenant",)
    search_fields = ("name",)
    ordering = ("tenant__name", "name")
    inlines = [EndpointInline]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(endpoints_n=Count("endpoints"))

    @admin.display(description="endpoints", ordering="endpoints_n")
    def endpoint_count(self, obj: UrlGroup) -> int:
        return obj.endpoints_n
