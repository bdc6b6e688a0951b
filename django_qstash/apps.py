"""App configuration: registers system checks, cache invalidation and log redaction."""

from django.apps import AppConfig


class DjangoQStashConfig(AppConfig):
    name = "django_qstash"
    verbose_name = "QStash"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from django_qstash import checks  # noqa: F401  (registers the server checks)
        from django_qstash.receiver.checks import register_receiver_checks

        register_receiver_checks()
        from django_qstash.core.log_redaction import install

        install()  # the dev server logs request lines, ?qstash_token=… included
        self._forget_tenant_names_on_change()
        self._forget_tokens_on_change()

    def _forget_tenant_names_on_change(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from django_qstash.engine.observability import forget_tenant_names
        from django_qstash.models import Tenant

        post_save.connect(forget_tenant_names, sender=Tenant, dispatch_uid="qstash-tenant-names")
        post_delete.connect(forget_tenant_names, sender=Tenant,
                            dispatch_uid="qstash-tenant-names-delete")

    def _forget_tokens_on_change(self) -> None:
        from django.db.models.signals import post_delete, post_save

        from django_qstash.api.token_cache import forget_tokens
        from django_qstash.models import ApiToken, Tenant
        from django_qstash.models.tenancy import tokens_revoked

        tokens_revoked.connect(forget_tokens, dispatch_uid="qstash-tokens-revoked")
        for model in (ApiToken, Tenant):
            for signal in (post_save, post_delete):
                signal.connect(forget_tokens, sender=model,
                               dispatch_uid=f"qstash-tokens-{model.__name__}-{id(signal)}")
