"""App configuration: registers system checks."""

from django.apps import AppConfig


class DjangoQStashConfig(AppConfig):
    name = "django_qstash"
    verbose_name = "QStash"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the server checks)
        from .receiver.checks import register_receiver_checks

        register_receiver_checks()
