"""The backend's ``OPTIONS``, read once and checked: where, how often and how tasks are sent."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from django.core.exceptions import ImproperlyConfigured

KNOWN = {"BASE_URL", "TENANT", "RETRIES", "RETRY_DELAY", "TIMEOUT", "LABEL", "QUEUE_PREFIX",
         "QUEUE_PARALLELISM", "DEFAULT_PARALLELISM", "FLOW_CONTROL_KEY", "FLOW_CONTROL_VALUE"}


@dataclass(frozen=True)
class TaskOptions:
    base_url: str  # this site's own URL, as the delivery engine reaches it
    tenant: str = "default"  # whose keys sign the deliveries, whose queues carry them
    retries: int | None = None  # None: QSTASH["DEFAULT_RETRIES"]
    retry_delay: str | None = None  # an Upstash-Retry-Delay expression, in milliseconds
    timeout: str | int | None = None  # per attempt; a task running longer is retried
    label: str | None = None
    queue_prefix: str = "tasks-"
    queue_parallelism: dict[str, int] = field(default_factory=dict)
    default_parallelism: int = 1
    flow_control_key: str | None = None  # set: tasks skip FIFO queues and share this key
    flow_control_value: str | None = None  # e.g. "parallelism=4, rate=10, period=1s"

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> TaskOptions:
        unknown = set(options) - KNOWN
        if unknown:
            raise ImproperlyConfigured(f"unknown OPTIONS for the QStash task backend: "
                                       f"{', '.join(sorted(unknown))}")
        from django_qstash.conf import qstash_settings

        parallelism = dict(options.get("QUEUE_PARALLELISM") or {})
        default_parallelism = options.get("DEFAULT_PARALLELISM", 1)
        for value in [*parallelism.values(), default_parallelism]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ImproperlyConfigured("queue parallelism must be a whole number of at least 1")
        return cls(
            base_url=(options.get("BASE_URL") or qstash_settings.PUBLIC_URL or "").rstrip("/"),
            tenant=options.get("TENANT") or "default",
            retries=options.get("RETRIES"), retry_delay=options.get("RETRY_DELAY"),
            timeout=options.get("TIMEOUT"), label=options.get("LABEL"),
            queue_prefix=options.get("QUEUE_PREFIX", "tasks-"),
            queue_parallelism=parallelism, default_parallelism=default_parallelism,
            flow_control_key=options.get("FLOW_CONTROL_KEY"),
            flow_control_value=options.get("FLOW_CONTROL_VALUE"))

    def server_queue(self, queue_name: str) -> str:
        return self.queue_prefix + queue_name

    def parallelism(self, queue_name: str) -> int:
        return self.queue_parallelism.get(queue_name, self.default_parallelism)
