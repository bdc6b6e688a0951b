"""Parse the Upstash-* request headers of publish, enqueue, batch and schedules, once, strictly."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import asdict, dataclass, field

from django_qstash.conf import qstash_settings
from django_qstash.core import clock
from django_qstash.core.destination_url import parse_destination
from django_qstash.core.durations import DurationError, parse_duration
from django_qstash.core.header_names import HOP_HEADERS, canonical, check_headers, forward_map
from django_qstash.core.retry_delay import RetryDelayError, validate_retry_delay
from django_qstash.exceptions import BadRequest

METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
FORWARD_PREFIX = "upstash-forward-"
MAX_STORED_INT = 2**31 - 1  # the database column is a 32-bit integer on PostgreSQL


@dataclass
class CallbackOptions:
    url: str
    headers: dict[str, list[str]] = field(default_factory=dict)
    method: str | None = None
    timeout_seconds: int | None = None
    retries: int | None = None
    retry_delay: str | None = None
    # The other ``Upstash-{Kind}-X`` headers, renamed ``upstash-x``: the configuration of the
    # callback message itself (its flow control, failure callback, workflow headers, …).
    nested: dict[str, str] = field(default_factory=dict)


@dataclass
class PublishOptions:
    """Everything a request says about how its message(s) must be delivered."""

    method: str = "POST"
    headers: dict[str, list[str]] = field(default_factory=dict)  # sent to the destination
    delay_seconds: int | None = None
    not_before: int | None = None  # unix seconds
    retries: int | None = None
    retry_delay: str | None = None
    timeout_seconds: int | None = None
    callback: CallbackOptions | None = None
    failure_callback: CallbackOptions | None = None
    deduplication_id: str | None = None
    content_based_deduplication: bool = False
    flow_control_key: str | None = None
    flow_control_parallelism: int | None = None
    flow_control_rate: int | None = None
    flow_control_period: int | None = None
    labels: list[str] = field(default_factory=list)
    redact_fields: list[str] = field(default_factory=list)
    # ``upstash-workflow-*`` and ``upstash-feature-set``, lower-case: empty unless the message
    # belongs to a workflow run.
    workflow: dict[str, str] = field(default_factory=dict)
    # Schedules only.
    cron: str | None = None
    schedule_id: str | None = None
    queue_name: str | None = None

    @property
    def content_type(self) -> str:
        values = self.headers.get("Content-Type") or []
        return values[0] if values else ""

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "PublishOptions":
        data = dict(data)
        for key in ("callback", "failure_callback"):
            if data.get(key):
                data[key] = CallbackOptions(**data[key])
        known = cls.__dataclass_fields__
        return cls(**{k: v for k, v in data.items() if k in known})


def parse_publish_headers(
    pairs: Iterable[tuple[str, str]], query: Iterable[tuple[str, str]] = ()
) -> PublishOptions:
    """Build PublishOptions from request header pairs and ``upstash-*`` query parameters.

    Query parameters are the webhook form of the same headers; a header wins over its twin.
    Hop-by-hop, framing and server-set headers are dropped from what is forwarded, as QStash
    drops them (a 400 would break Workflow SDKs, which forward every header they received);
    a name or value HTTP cannot carry (CR, LF, NUL, …) is a 400.
    """
    pairs = list(pairs)
    _check_header_limits(pairs)
    check_headers(pairs)
    config: dict[str, str] = {}
    for name, value in query:
        if name.lower().startswith("upstash-"):
            check_headers([(name, value)])
            config[name.lower()] = value
    forward: list[tuple[str, str]] = []
    passthrough: list[tuple[str, str]] = []
    content_type: list[tuple[str, str]] = []
    for name, value in pairs:
        lower = name.lower()
        if lower.startswith(FORWARD_PREFIX):
            forward.append((name[len(FORWARD_PREFIX):], value))
        elif lower.startswith("upstash-"):
            config[lower] = value
        elif lower == "content-type":
            content_type = [("Content-Type", value)]
        elif lower not in HOP_HEADERS:
            passthrough.append((name, value))
    # Upstash-Forward-Content-Type names the destination's Content-Type explicitly: it wins
    # over the publish request's own, which otherwise goes on (once) with the body.
    if any(name.lower() == "content-type" for name, _ in forward):
        content_type = []
    return _build(config, content_type + forward, passthrough)


def _check_header_limits(pairs: list[tuple[str, str]]) -> None:
    count, size = len(pairs), sum(len(name) + len(value) for name, value in pairs)
    if count > (most := qstash_settings.MAX_HEADER_COUNT):
        raise BadRequest(f"too many headers: {count}, at most {most} are accepted", status=431)
    if size > (most := qstash_settings.MAX_HEADER_BYTES):
        raise BadRequest(f"headers are {size} bytes, at most {most} are accepted", status=431)


def _build(config: dict[str, str], forward: list, passthrough: list) -> PublishOptions:
    opts = PublishOptions()
    if _bool(config.get("upstash-header-forward"), "Upstash-Header-Forward"):
        forward = passthrough + forward
    opts.headers = forward_map(forward)
    opts.method = _method(config.get("upstash-method"), "Upstash-Method") or "POST"
    opts.delay_seconds = _duration(config.get("upstash-delay"), "Upstash-Delay")
    if opts.delay_seconds is not None and opts.delay_seconds > qstash_settings.MAX_DELAY_SECONDS:
        raise BadRequest("Upstash-Delay exceeds the maximum delay")
    opts.not_before = _int(config.get("upstash-not-before"), "Upstash-Not-Before")
    if opts.not_before is not None and opts.not_before - clock.timestamp() > qstash_settings.MAX_DELAY_SECONDS:
        raise BadRequest("Upstash-Not-Before is further away than the maximum delay")
    opts.retries = _retries(config.get("upstash-retries"), "Upstash-Retries")
    opts.retry_delay = _retry_delay(config.get("upstash-retry-delay"), "Upstash-Retry-Delay")
    opts.timeout_seconds = _timeout(config.get("upstash-timeout"), "Upstash-Timeout")
    opts.callback = _callback(config, "callback")
    opts.failure_callback = _callback(config, "failure-callback")
    opts.deduplication_id = _dedup_id(config.get("upstash-deduplication-id"))
    opts.content_based_deduplication = _bool(
        config.get("upstash-content-based-deduplication"), "Upstash-Content-Based-Deduplication")
    _flow_control(opts, config)
    opts.labels = _list(config.get("upstash-label"))
    opts.redact_fields = _redact(config.get("upstash-redact-fields"))
    if cron := config.get("upstash-cron"):
        if len(cron.strip()) > 200:
            raise BadRequest("Upstash-Cron is longer than 200 characters")
        opts.cron = cron.strip()
    opts.schedule_id = _name(config.get("upstash-schedule-id"), "Upstash-Schedule-Id")
    opts.queue_name = _name(config.get("upstash-queue-name"), "Upstash-Queue-Name")
    if WORKFLOW_RUN_ID in config:  # one dict lookup for every message that is not a step
        opts.workflow = _workflow(config)
    return opts


WORKFLOW_RUN_ID = "upstash-workflow-runid"
WORKFLOW_CONFIG = ("upstash-workflow-", "upstash-feature-set")


def _workflow(config: dict[str, str]) -> dict[str, str]:
    workflow = {name: value.strip() for name, value in config.items()
                if name.startswith(WORKFLOW_CONFIG)}
    run_id = workflow[WORKFLOW_RUN_ID]
    if not run_id or len(run_id) > 200 or not run_id.isascii():
        raise BadRequest("Upstash-Workflow-RunId must be 1 to 200 ASCII characters")
    return workflow


# Callback settings read by _callback itself; every other Upstash-{Kind}-X header configures
# the callback message as Upstash-X would configure a message.
_CALLBACK_OWN = ("forward-", "method", "timeout", "retries", "retry-delay", "delay")


def _callback(config: dict[str, str], kind: str) -> CallbackOptions | None:
    label = "Upstash-" + canonical(kind)
    url = config.get(f"upstash-{kind}")
    if not url:
        return None
    url = parse_destination(utf8_header_text(url.strip()), label)
    if config.get(f"upstash-{kind}-delay"):
        raise BadRequest(f"{label}-Delay is not supported: callbacks are sent right away")
    prefix = f"upstash-{kind}-forward-"
    headers = forward_map((name[len(prefix):], value) for name, value in config.items()
                          if name.startswith(prefix))
    own = f"upstash-{kind}-"
    nested = {"upstash-" + name[len(own):]: value for name, value in config.items()
              if name.startswith(own) and not name[len(own):].startswith(_CALLBACK_OWN)}
    if nested:
        _build(nested, [], [])  # a bad nested header is a 400 now, not a lost callback later
    return CallbackOptions(
        url=url,
        headers=headers,
        method=_method(config.get(f"upstash-{kind}-method"), f"{label}-Method"),
        timeout_seconds=_timeout(config.get(f"upstash-{kind}-timeout"), f"{label}-Timeout"),
        retries=_retries(config.get(f"upstash-{kind}-retries"), f"{label}-Retries"),
        retry_delay=_retry_delay(config.get(f"upstash-{kind}-retry-delay"), f"{label}-Retry-Delay"),
        nested=nested,
    )


def utf8_header_text(value: str) -> str:
    """A header value as its sender wrote it: WSGI hands header bytes over as Latin-1, so a
    UTF-8 URL arrives garbled (and would be IDNA-encoded into some other host name)."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:  # not Latin-1 text (a query parameter), or not UTF-8 bytes
        return value


def _flow_control(opts: PublishOptions, config: dict[str, str]) -> None:
    key = (config.get("upstash-flow-control-key") or "").strip()
    value = config.get("upstash-flow-control-value") or ""
    if not key:
        if value.strip():
            raise BadRequest("Upstash-Flow-Control-Value needs Upstash-Flow-Control-Key")
        return
    if len(key) > 200:
        raise BadRequest("Upstash-Flow-Control-Key is longer than 200 characters")
    opts.flow_control_key = key
    for part in filter(None, (p.strip() for p in value.split(","))):
        name, _, raw = part.partition("=")
        name, raw = name.strip().lower(), raw.strip()
        if name == "parallelism":
            opts.flow_control_parallelism = _positive(raw, "flow-control parallelism")
        elif name == "rate":
            opts.flow_control_rate = _positive(raw, "flow-control rate")
        elif name == "period":
            period = _duration(raw, "flow-control period")
            if not period or period > 7 * 24 * 3600:
                raise BadRequest("flow-control period must be between 1s and 1 week")
            opts.flow_control_period = period
        else:
            raise BadRequest(f"Upstash-Flow-Control-Value: unknown setting {name!r}")
    if opts.flow_control_rate is not None and opts.flow_control_period is None:
        opts.flow_control_period = 1


def _method(value: str | None, label: str) -> str | None:
    if value is None or not value.strip():
        return None
    method = value.strip().upper()
    if method not in METHODS:
        raise BadRequest(f"{label}: unsupported method {value.strip()!r}")
    return method


def _duration(value: str | None, label: str) -> int | None:
    if value is None or not value.strip():
        return None
    try:
        return parse_duration(value)
    except DurationError as exc:
        raise BadRequest(f"{label}: {exc}") from None


def _timeout(value: str | None, label: str) -> int | None:
    seconds = _duration(value, label)
    if seconds is not None and not 1 <= seconds <= qstash_settings.MAX_TIMEOUT_SECONDS:
        raise BadRequest(f"{label} must be between 1s and {qstash_settings.MAX_TIMEOUT_SECONDS}s")
    return seconds


def _int(value: str | None, label: str) -> int | None:
    if value is None or not value.strip():
        return None
    raw = value.strip()
    if not (raw.isascii() and raw.isdigit()) or len(raw) > 15:  # int("²") fails
        raise BadRequest(f"{label} must be a non-negative integer, got {raw[:40]!r}")
    return int(raw)


def _positive(value: str, label: str) -> int:
    number = _int(value, label)
    if not number or number > MAX_STORED_INT:
        raise BadRequest(f"{label} must be an integer from 1 to {MAX_STORED_INT}")
    return number


def _retries(value: str | None, label: str) -> int | None:
    retries = _int(value, label)
    if retries is not None and retries > qstash_settings.MAX_RETRIES:
        raise BadRequest(f"{label} must be at most {qstash_settings.MAX_RETRIES}")
    return retries


def _retry_delay(value: str | None, label: str) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return validate_retry_delay(value)
    except RetryDelayError as exc:
        raise BadRequest(f"{label}: {exc}") from None


def _bool(value: str | None, label: str) -> bool:
    if value is None or not value.strip():
        return False
    lowered = value.strip().lower()
    if lowered not in ("true", "false"):
        raise BadRequest(f"{label} must be true or false")
    return lowered == "true"


def _list(value: str | None) -> list[str]:
    return [item.strip() for item in (value or "").split(",") if item.strip()]


def _redact(value: str | None) -> list[str]:
    fields = _list(value)
    for item in fields:
        lowered = item.lower()
        if lowered in ("body", "header", "headers"):
            continue
        if lowered.startswith(("header[", "headers[")) and lowered.endswith("]"):
            continue
        raise BadRequest(f"Upstash-Redact-Fields: unknown field {item!r}")
    return fields


def _dedup_id(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if len(value) > 200:
        raise BadRequest("Upstash-Deduplication-Id is longer than 200 characters")
    return value.strip()


def _name(value: str | None, label: str) -> str | None:
    if value is None or not value.strip():
        return None
    return validate_name(value.strip(), label)


def validate_name(value: str, label: str) -> str:
    """Queue names, URL-group names and schedule ids: ``[A-Za-z0-9._-]+``."""
    if not value or len(value) > 200 or not all(c.isascii() and (c.isalnum() or c in "._-") for c in value):
        raise BadRequest(f"{label} may contain only letters, digits, '.', '_' and '-'")
    return value
