"""App configuration: registers system checks, cache invalidation and log redaction."""

from django.apps import AppConfig


class DjangoQStashConfig(AppConfig):
    name = "django_qstash"
    verbose_name = "QStash"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the server checks)
        from .receiver.checks import register_receiver_checks

        register_receiver_checks()
        from .log_redaction import install

        install()  # the dev server logs request lines, ?qstash_token=… included
        self._forget_tenant_names_on_change()
        self._forget_tokens_on_change()

    def _forget_tenant_names_on_change(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .models import Tenant
        from .observability import forget_tenant_names

        post_save.connect(forget_tenant_names, sender=Tenant, dispatch_uid="qstash-tenant-names")
        post_delete.connect(forget_tenant_names, sender=Tenant,
                            dispatch_uid="qstash-tenant-names-delete")

    def _forget_tokens_on_change(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from .api.token_cache import forget_tokens
        from .models import ApiToken, Tenant

        for model in (ApiToken, Tenant):
            for signal in (post_save, post_delete):
                signal.connect(forget_tokens, sender=model,
                               dispatch_uid=f"qstash-tokens-{model.__name__}-{id(signal)}")
