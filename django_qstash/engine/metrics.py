"""Prometheus metrics: event counters per process, backlog gauges read from the database.

Counters and histograms are counted where the event happens (API processes, Celery workers,
dispatchers). With several processes set ``PROMETHEUS_MULTIPROC_DIR`` for all of them: each
process then writes its samples to that directory and ``/metrics`` adds them up. Gauges (queue
lag, DLQ size, flow-control waitlists) are computed from the database at scrape time, so they
are right whichever process answers and never go stale.
"""

from __future__ import annotations

import hmac
import os
from datetime import datetime
from typing import TYPE_CHECKING

from django.db.models import Count, Q
from django.http import HttpRequest, HttpResponse
from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST

from django_qstash.conf import qstash_settings

if TYPE_CHECKING:
    from django_qstash.core.attempts import DeliveryOutcome
    from django_qstash.models import Message

# Our own registry: a host project's default registry stays untouched, and vice versa.
LOCAL_REGISTRY = CollectorRegistry(auto_describe=True)
STATE_COUNTERS = {
    name: Counter(f"qstash_messages_{name}", f"Messages {name}", ["tenant"],
                  registry=LOCAL_REGISTRY)
    for name in ("published", "delivered", "failed", "retried", "canceled")
}
ATTEMPT_DURATION = Histogram(
    "qstash_attempt_duration_seconds", "Duration of one HTTP delivery attempt",
    ["tenant", "result"], registry=LOCAL_REGISTRY,
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120))
DELIVERY_LATENCY = Histogram(
    "qstash_delivery_latency_seconds",
    "From publish to successful delivery (includes delays and retries)", ["tenant"],
    registry=LOCAL_REGISTRY,
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 86400))


_children: dict[tuple, object] = {}


def _child(metric, *labels: str):
    # labels() validates and looks the child up on every call; each label set of a metric is
    # looked up once per process.
    child = _children.get((metric, *labels))
    if child is None:
        child = _children[(metric, *labels)] = metric.labels(*labels)
    return child


def count_state(name: str, tenant: str) -> None:
    _child(STATE_COUNTERS[name], tenant).inc()


def observe_attempt(message: Message, outcome: DeliveryOutcome, started_at: datetime,
                    tenant: str) -> None:
    seconds = outcome.duration_ms / 1000
    result = "success" if outcome.delivered else "error"
    _child(ATTEMPT_DURATION, tenant, result).observe(seconds)
    if outcome.delivered and message.created_at:
        latency = (started_at - message.created_at).total_seconds() + seconds
        _child(DELIVERY_LATENCY, tenant).observe(max(latency, 0.0))


class DatabaseCollector:
    """Backlog gauges, one grouped query each; every query is served by a partial index."""

    def collect(self):
        from django_qstash.models import FlowControlKey, Message, Queue, Tenant

        names = dict(Tenant.objects.values_list("pk", "name"))
        live = Message.objects.filter(status__in=[Message.Status.PENDING, Message.Status.ACTIVE])
        by_state = GaugeMetricFamily("qstash_messages_undelivered",
                                     "Messages waiting or in flight", labels=["tenant", "state"])
        for row in live.order_by().values("tenant_id", "status").annotate(n=Count("*")):
            by_state.add_metric([names.get(row["tenant_id"], ""), row["status"]], row["n"])
        yield by_state

        lag = GaugeMetricFamily("qstash_queue_lag", "Undelivered messages per queue",
                                labels=["tenant", "queue"])
        paused = GaugeMetricFamily("qstash_queue_paused", "1 when the queue is paused",
                                   labels=["tenant", "queue"])
        parallelism = GaugeMetricFamily("qstash_queue_parallelism", "Queue parallelism",
                                        labels=["tenant", "queue"])
        counts = {(r["tenant_id"], r["queue_name"]): r["n"] for r in
                  live.filter(kind=Message.Kind.MESSAGE).exclude(queue_name="").order_by()
                  .values("tenant_id", "queue_name").annotate(n=Count("*"))}
        for queue in Queue.objects.order_by("tenant_id", "name")[:10000]:
            labels = [names.get(queue.tenant_id, ""), queue.name]
            lag.add_metric(labels, counts.get((queue.tenant_id, queue.name), 0))
            paused.add_metric(labels, int(queue.paused))
            parallelism.add_metric(labels, queue.parallelism)
        yield from (lag, paused, parallelism)

        dlq = GaugeMetricFamily("qstash_dlq_size", "DLQ entries per queue ('' = no queue)",
                                labels=["tenant", "queue"])
        # From the failed messages' partial index, each probed in the DLQ's unique index.
        for row in (Message.objects.filter(status=Message.Status.FAILED, dlq_entry__isnull=False)
                    .order_by().values("tenant_id", "queue_name").annotate(n=Count("*"))):
            dlq.add_metric([names.get(row["tenant_id"], ""), row["queue_name"]], row["n"])
        yield dlq

        waitlist = GaugeMetricFamily("qstash_flow_control_waitlist",
                                     "Messages waiting for their flow-control key",
                                     labels=["tenant", "key"])
        keys = {(r["tenant_id"], r["flow_control_key"]): r["n"] for r in
                live.filter(~Q(flow_control_key=""), status=Message.Status.PENDING).order_by()
                .values("tenant_id", "flow_control_key").annotate(n=Count("*"))}
        fc_paused = GaugeMetricFamily("qstash_flow_control_paused", "1 when the key is paused",
                                      labels=["tenant", "key"])
        for key in FlowControlKey.objects.order_by("tenant_id", "key")[:10000]:
            labels = [names.get(key.tenant_id, ""), key.key]
            waitlist.add_metric(labels, keys.get((key.tenant_id, key.key), 0))
            fc_paused.add_metric(labels, int(key.paused))
        yield from (waitlist, fc_paused)


class _LocalCounters:
    def collect(self):
        return LOCAL_REGISTRY.collect()


def scrape() -> bytes:
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_LocalCounters())
    registry.register(DatabaseCollector())
    return generate_latest(registry)


def may_scrape(request: HttpRequest) -> bool:
    """``Authorization: Bearer <METRICS_TOKEN>``, a superuser's session, or METRICS_PUBLIC.

    The samples name every tenant, queue and flow-control key, so staff scoped to some
    tenants are not enough."""
    token = qstash_settings.METRICS_TOKEN
    if token:
        given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
        if hmac.compare_digest(given.encode(), str(token).encode()):
            return True
    user = getattr(request, "user", None)  # absent without AuthenticationMiddleware
    if user is not None and user.is_active and user.is_superuser:
        return True
    return bool(qstash_settings.METRICS_PUBLIC)


def metrics_view(request: HttpRequest) -> HttpResponse:
    """GET /metrics, for the callers may_scrape lets in."""
    if not may_scrape(request):
        return HttpResponse("metrics need Authorization: Bearer <QSTASH['METRICS_TOKEN']> or a "
                            "superuser session\n", status=401, content_type="text/plain",
                            headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    return HttpResponse(scrape(), content_type=CONTENT_TYPE_LATEST)
