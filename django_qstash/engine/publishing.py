"""Accept messages: resolve the destination, dedupe, write rows and CREATED events in one go."""

from __future__ import annotations

import re
from collections.abc import Iterable
from contextlib import nullcontext
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import transaction

from django_qstash.conf import qstash_settings
from django_qstash.core import clock, ids
from django_qstash.core.destination_url import parse_destination
from django_qstash.core.header_names import check_headers
from django_qstash.core.request_headers import PublishOptions, parse_publish_headers, validate_name
from django_qstash.core.storable_text import reject_unstorable_headers, reject_unstorable_publish
from django_qstash.db.bulk_insert import insert_groups
from django_qstash.db.drafts import MessageDraft
from django_qstash.engine import observability, transitions
from django_qstash.engine.callbacks import callback_options, label_index
from django_qstash.engine.dedup import deduplication_key, first_with_key
from django_qstash.engine.dispatcher_presence import warn_if_nothing_dispatches
from django_qstash.engine.event_log import event_for
from django_qstash.engine.flow_control import configure_keys
from django_qstash.engine.handover import hand_over
from django_qstash.exceptions import BadRequest, PayloadTooLarge
from django_qstash.models import Event, Message, Queue, Tenant, UrlGroup


@dataclass
class Published:
    message_id: str
    url: str
    deduplicated: bool = False

    def as_json(self) -> dict:
        return {"messageId": self.message_id, "url": self.url, "deduplicated": self.deduplicated}


@dataclass
class Target:
    url: str
    topic_name: str = ""
    endpoint_name: str = ""


OTHER_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*:/")


def is_url(destination: str) -> bool:
    """A URL rather than a URL group name, whatever its scheme: the URL parser refuses those
    it cannot send to ("ftp://…") with a reason, instead of a complaint about group names."""
    return destination.startswith(("http://", "https://")) or bool(OTHER_SCHEME.match(destination))


def resolve(tenant: Tenant, destination: str) -> tuple[list[Target], UrlGroup | None]:
    if is_url(destination):
        return [Target(parse_destination(destination))], None
    validate_name(destination, "URL group name")
    group = UrlGroup.objects.filter(tenant=tenant, name=destination).first()
    if group is None:
        raise BadRequest(f"URL group {destination!r} not found", status=404)
    endpoints = list(group.endpoints.all())
    if not endpoints:
        raise BadRequest(f"URL group {destination!r} has no endpoints")
    return [Target(e.url, group.name, e.name) for e in endpoints], group


def group_default_pairs(group: UrlGroup | None) -> list[tuple[str, str]]:
    return default_pairs(group.default_headers if group else None)


def default_pairs(headers: dict | None) -> list[tuple[str, str]]:
    pairs: list[tuple[str, str]] = []
    for name, value in (headers or {}).items():
        for item in value if isinstance(value, list) else [value]:
            pairs.append((name, str(item)))
    return pairs


def check_default_headers(headers) -> dict:
    """A URL group's default headers as the API and the admin accept them: an object of
    strings or lists of strings, each one a header HTTP can carry."""
    if not isinstance(headers, dict) or not all(
            isinstance(v, str) or (isinstance(v, list) and all(isinstance(i, str) for i in v))
            for v in headers.values()):
        raise BadRequest('headers must be {"Name": "value" or ["values"]}')
    pairs = default_pairs(headers)
    check_headers(pairs)
    reject_unstorable_headers(pairs)
    return headers


@dataclass
class PublishSpec:
    """One publish request, parsed and resolved, ready to be written."""

    targets: list[Target]
    is_group: bool
    body: bytes
    options: PublishOptions
    queue_name: str = ""
    schedule_id: str = ""
    caller_ip: str = ""


def prepare(tenant: Tenant, destination: str, body: bytes, pairs: Iterable[tuple[str, str]],
            query: Iterable[tuple[str, str]] = (), *, queue_name: str = "",
            schedule_id: str = "", caller_ip: str = "") -> PublishSpec:
    """Parse and validate without writing anything, so a batch can reject items one by one."""
    if not destination:
        raise BadRequest("destination is required")
    pairs = list(pairs)
    reject_unstorable_publish(destination, pairs, queue_name)
    targets, group = resolve(tenant, destination)
    # A URL group's default headers apply first; the request's own headers override them.
    options = parse_publish_headers([*group_default_pairs(group), *pairs], query)
    if queue_name:
        validate_name(queue_name, "queue name")
        if options.delay_seconds is not None or options.not_before is not None:
            raise BadRequest("Upstash-Delay and Upstash-Not-Before are not supported on enqueue")
    if len(body) > qstash_settings.MAX_BODY_BYTES:
        raise PayloadTooLarge("message body is too large")
    return PublishSpec(targets, group is not None, body, options, queue_name, schedule_id,
                       caller_ip)


def publish(tenant: Tenant, destination: str, body: bytes, pairs: Iterable[tuple[str, str]],
            query: Iterable[tuple[str, str]] = (), **kwargs) -> Published | list[Published]:
    spec = prepare(tenant, destination, body, pairs, query, **kwargs)
    return publish_specs(tenant, [spec])[0]


def publish_specs(tenant: Tenant, specs: list[PublishSpec]) -> list[Published | list[Published]]:
    """Write every spec's messages atomically; due-now ones go to the transport on commit.

    Plain messages (no queue, deduplication or flow control) need no transaction of their
    own: their rows go in one statement, which on PostgreSQL is one round trip in all.
    """
    now = clock.now()
    needs_transaction = any(spec.queue_name or spec.options.flow_control_key
                            or spec.options.workflow or spec.options.deduplication_id
                            or spec.options.content_based_deduplication for spec in specs)
    with transaction.atomic() if needs_transaction else nullcontext():
        return _write_specs(tenant, specs, now)


def _write_specs(tenant: Tenant, specs: list[PublishSpec], now: datetime) -> list:
    results: list[Published | list[Published]] = []
    messages: list[MessageDraft] = []
    for queue_name in dict.fromkeys(spec.queue_name for spec in specs if spec.queue_name):
        Queue.objects.get_or_create(tenant=tenant, name=queue_name)
    for spec in specs:
        published = []
        for target in spec.targets:
            # A microsecond apart, so FIFO queues keep the order of a batch's items.
            message = build_message(tenant, target, spec, now,
                                    created_at=now + timedelta(microseconds=len(messages)))
            if spec.options.workflow:
                from django_qstash.engine.workflow.steps import accept  # workflow messages only

                if original := accept(tenant, message, spec.options, now):
                    published.append(Published(original, target.url, deduplicated=True))
                    continue
            key = deduplication_key(target.url, spec.body, spec.options)
            original = first_with_key(tenant, key, message.id, now) if key else None
            if original:
                published.append(Published(original, target.url, deduplicated=True))
                continue
            messages.append(message)
            published.append(Published(message.id, target.url))
        results.append(published if spec.is_group else published[0])
    save_messages(messages, now)
    return results


def build_message(tenant: Tenant, target: Target, spec: PublishSpec, now: datetime,
                  **overrides) -> MessageDraft:
    opts = spec.options
    not_before = now
    if opts.not_before is not None:
        not_before = max(now, clock.from_ms(opts.not_before * 1000))
    elif opts.delay_seconds:
        not_before = now + timedelta(seconds=opts.delay_seconds)
    fields = dict(
        id=ids.message_id(), tenant_id=tenant.pk, url=target.url, method=opts.method,
        headers=opts.headers, body=spec.body, topic_name=target.topic_name,
        endpoint_name=target.endpoint_name, queue_name=spec.queue_name,
        schedule_id=spec.schedule_id, caller_ip=spec.caller_ip,
        max_retries=qstash_settings.DEFAULT_RETRIES if opts.retries is None else opts.retries,
        retry_delay_expression=opts.retry_delay or "", timeout_seconds=opts.timeout_seconds,
        labels=opts.labels, label_index=label_index(opts.labels), redact_fields=opts.redact_fields,
        flow_control_key=opts.flow_control_key or "",
        flow_control_parallelism=opts.flow_control_parallelism,
        flow_control_rate=opts.flow_control_rate, flow_control_period=opts.flow_control_period,
        deduplication_id=opts.deduplication_id or "", not_before=not_before, created_at=now,
    )
    for kind in ("callback", "failure_callback"):
        cb = getattr(opts, kind)
        if cb:
            fields[kind] = cb.url
            fields[f"{kind}_headers"] = cb.headers
            fields[f"{kind}_options"] = callback_options(cb)
    fields.update(overrides)
    return MessageDraft(**fields)


def takes_fast_path(message: Message, now: datetime) -> bool:
    # Queued and flow-controlled messages wait for the dispatcher, which enforces their limits;
    # a queued message's callback only marks its queue busy and goes straight out.
    unqueued = not message.queue_name or message.kind != Message.Kind.MESSAGE
    return unqueued and not message.flow_control_key and message.not_before <= now


def save_messages(messages: list, now: datetime) -> None:
    """Insert messages (drafts or unsaved instances) with their CREATED events, atomically;
    due-now ones go to the transport on commit."""
    if not messages:
        return
    events: list[Event] = []
    fast: list[tuple[str, int]] = []
    fast_rows = []
    for message in messages:
        events.append(event_for(message, Event.State.CREATED, now))
        if takes_fast_path(message, now):
            fast.append(transitions.claimed_on_insert(message, now))
            fast_rows.append(message)
            events.append(event_for(message, Event.State.ACTIVE, now))
        else:
            warn_if_nothing_dispatches(message.id, "waits for its time, queue or flow control")
    insert_groups([(Message, messages), (Event, events)])
    observability.record(events)
    configure_keys(messages)
    if fast:
        transaction.on_commit(lambda: hand_over(fast, fast_rows))
