"""Tenants, their signing keys (rotate) and API tokens (create shown once, revoke)."""

from __future__ import annotations

from django.contrib import admin, messages
from django.db import transaction

from django_qstash.admin.base import TenantFilter, TenantScopedAdmin, visible_tenant_ids
from django_qstash.core import api_tokens
from django_qstash.engine import observability
from django_qstash.models import ApiToken, SigningKeyPair, Tenant, hash_token


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ("name", "created_at")
    search_fields = ("name",)
    ordering = ("name",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if (visible := visible_tenant_ids(request)) is not None:
            queryset = queryset.filter(pk__in=visible)
        return queryset

    # A tenant belongs to whoever holds the group of its name: creating or renaming one is
    # handing tenants out, which only superusers may do.
    def has_add_permission(self, request) -> bool:
        return request.user.is_superuser and super().has_add_permission(request)

    def get_readonly_fields(self, request, obj=None):
        return () if request.user.is_superuser else ("name",)

    def save_model(self, request, obj, form, change) -> None:
        with transaction.atomic():
            super().save_model(request, obj, form, change)
            SigningKeyPair.for_tenant(obj)  # a tenant always comes with signing keys


@admin.register(SigningKeyPair)
class SigningKeyPairAdmin(TenantScopedAdmin):
    list_display = ("tenant", "current", "next", "rotated_at")
    list_filter = (TenantFilter,)
    list_select_related = ("tenant",)
    fields = ("tenant", "current", "next", "rotated_at")
    readonly_fields = fields
    actions = ["rotate"]

    def has_add_permission(self, request) -> bool:
        return False  # created with their tenant

    @admin.action(description="Rotate signing keys (next becomes current, a new next)")
    def rotate(self, request, queryset) -> None:
        with transaction.atomic():
            pairs = list(queryset.select_for_update().select_related("tenant"))
            for pair in pairs:
                pair.rotate()
                observability.operator_action(request.user, "rotate_keys",
                                              tenant=pair.tenant.name)
        self.message_user(request, f"Rotated the signing keys of {len(pairs)} tenants; "
                                   "receivers need the new next key", messages.SUCCESS)


class RevokedFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "revoked"

    def lookups(self, request, model_admin):
        return [("no", "active"), ("yes", "revoked")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(revoked_at__isnull=self.value() == "no")
        return queryset


@admin.register(ApiToken)
class ApiTokenAdmin(TenantScopedAdmin):
    list_display = ("prefix", "tenant", "name", "read_only", "created_at", "revoked_at")
    list_filter = (TenantFilter, RevokedFilter, "read_only")
    list_select_related = ("tenant",)
    search_fields = ("name", "prefix")
    ordering = ("-created_at",)
    actions = ["revoke"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ("tenant", "name", "read_only")
        return ("tenant", "name", "read_only", "prefix", "created_at", "revoked_at")

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else ("tenant", "read_only", "prefix", "created_at",
                                       "revoked_at")

    def has_delete_permission(self, request, obj=None) -> bool:
        return False  # revoke instead: the row stays as a record of who had access

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        secret = api_tokens.mint(obj.tenant.account_id)
        obj.token_hash, obj.prefix = hash_token(secret), api_tokens.shown_prefix(secret)
        super().save_model(request, obj, form, change)
        observability.operator_action(request.user, "create_token", tenant=obj.tenant.name,
                                      prefix=obj.prefix)
        # Only the hash is stored: this message is the one time the secret is shown.
        self.message_user(request, f"Copy this token now, it will not be shown again: {secret}",
                          messages.WARNING)

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset) -> None:
        revoked = queryset.revoke()
        observability.operator_action(request.user, "revoke_tokens", count=revoked)
        self.message_user(request, f"Revoked {revoked} tokens", messages.SUCCESS)
