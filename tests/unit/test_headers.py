"""Header parsing: every publish header, its query-parameter twin, and clear 400s."""

from __future__ import annotations

import pytest

from django_qstash.core.request_headers import PublishOptions, parse_publish_headers
from django_qstash.exceptions import BadRequest


def parse(**headers) -> PublishOptions:
    return parse_publish_headers([(k.replace("_", "-"), v) for k, v in headers.items()])


def test_defaults():
    opts = parse()
    assert opts.method == "POST" and opts.headers == {} and opts.retries is None
    assert opts.callback is None and opts.labels == [] and not opts.content_based_deduplication


def test_forward_headers_are_stripped_and_canonical():
    opts = parse_publish_headers([("upstash-forward-x-api-key", "k"), ("Content-Type", "text/plain"),
                                  ("Upstash-Forward-Test-Header", "a"), ("Accept", "x")])
    assert opts.headers == {"X-Api-Key": ["k"], "Content-Type": ["text/plain"],
                            "Test-Header": ["a"]}


def test_header_forward_forwards_everything_but_hop_headers():
    opts = parse_publish_headers([("Upstash-Header-Forward", "true"), ("Accept", "x"),
                                  ("Authorization", "Bearer secret"), ("Host", "h"),
                                  ("Upstash-Retries", "1")])
    assert opts.headers == {"Accept": ["x"]}


@pytest.mark.parametrize("name, value, attribute, expected", [
    ("Upstash-Method", "put", "method", "PUT"),
    ("Upstash-Delay", "1d10h30m", "delay_seconds", 124200),
    ("Upstash-Delay", "50s", "delay_seconds", 50),
    ("Upstash-Not-Before", "1700000000", "not_before", 1700000000),
    ("Upstash-Retries", "0", "retries", 0),
    ("Upstash-Retry-Delay", " pow(2, retried) * 1000 ", "retry_delay", "pow(2, retried) * 1000"),
    ("Upstash-Timeout", "30s", "timeout_seconds", 30),
    ("Upstash-Deduplication-Id", "abc", "deduplication_id", "abc"),
    ("Upstash-Content-Based-Deduplication", "True", "content_based_deduplication", True),
    ("Upstash-Content-Based-Deduplication", "false", "content_based_deduplication", False),
    ("Upstash-Label", "a, b,,c", "labels", ["a", "b", "c"]),
    ("Upstash-Redact-Fields", "body,header[Authorization]", "redact_fields",
     ["body", "header[Authorization]"]),
    ("Upstash-Cron", " */10 * * * * ", "cron", "*/10 * * * *"),
    ("Upstash-Schedule-Id", "my.schedule-1", "schedule_id", "my.schedule-1"),
    ("Upstash-Queue-Name", "orders", "queue_name", "orders"),
])
def test_single_headers(name, value, attribute, expected):
    assert getattr(parse_publish_headers([(name, value)]), attribute) == expected


def test_callbacks_with_their_options_and_forwarded_headers():
    opts = parse_publish_headers([
        ("Upstash-Callback", "https://cb.example/x"),
        ("Upstash-Callback-Method", "put"), ("Upstash-Callback-Timeout", "5s"),
        ("Upstash-Callback-Retries", "1"), ("Upstash-Callback-Retry-Delay", "1000"),
        ("Upstash-Callback-Forward-Token", "t"), ("Upstash-Callback-Other", "ignored"),
        ("Upstash-Failure-Callback", "https://fail.example"),
        ("Upstash-Failure-Callback-Forward-Reason", "r"),
    ])
    assert opts.callback.url == "https://cb.example/x"
    assert (opts.callback.method, opts.callback.timeout_seconds, opts.callback.retries,
            opts.callback.retry_delay) == ("PUT", 5, 1, "1000")
    assert opts.callback.headers == {"Token": ["t"]}
    assert opts.failure_callback.headers == {"Reason": ["r"]}


def test_flow_control_value():
    opts = parse_publish_headers([("Upstash-Flow-Control-Key", "k"),
                                  ("Upstash-Flow-Control-Value", "parallelism=2, rate=10,period=1h30m3s")])
    assert (opts.flow_control_key, opts.flow_control_parallelism, opts.flow_control_rate,
            opts.flow_control_period) == ("k", 2, 10, 5403)
    assert parse_publish_headers([("Upstash-Flow-Control-Key", "k"),
                                  ("Upstash-Flow-Control-Value", "rate=5")]).flow_control_period == 1


def test_query_parameters_configure_and_headers_win():
    opts = parse_publish_headers([("Upstash-Retries", "2")],
                                 [("upstash-retries", "5"), ("upstash-delay", "10s"),
                                  ("other", "ignored")])
    assert opts.retries == 2 and opts.delay_seconds == 10


def test_telemetry_headers_are_ignored():
    opts = parse_publish_headers([("Upstash-Telemetry-Sdk", "js"), ("Upstash-Unknown", "1")])
    assert opts == PublishOptions()


@pytest.mark.parametrize("name, value", [
    ("Upstash-Method", "BREW"), ("Upstash-Delay", "5 minutes"), ("Upstash-Delay", "-1s"),
    ("Upstash-Not-Before", "tomorrow"), ("Upstash-Retries", "-1"), ("Upstash-Retries", "999"),
    ("Upstash-Retry-Delay", "retried +"), ("Upstash-Retry-Delay", "import os"),
    ("Upstash-Timeout", "0s"), ("Upstash-Timeout", "100d"), ("Upstash-Callback", "not-a-url"),
    ("Upstash-Content-Based-Deduplication", "yes"), ("Upstash-Redact-Fields", "cookies"),
    ("Upstash-Schedule-Id", "bad id"), ("Upstash-Queue-Name", "a/b"),
    ("Upstash-Flow-Control-Value", "rate=1"),
])
def test_bad_values_are_rejected_with_the_header_name(name, value):
    with pytest.raises(BadRequest) as excinfo:
        parse_publish_headers([(name, value)])
    assert excinfo.value.status == 400
    assert name.split("-")[1].lower() in excinfo.value.message.lower() or "flow" in excinfo.value.message.lower()


def test_options_round_trip_through_a_dict():
    opts = parse_publish_headers([("Upstash-Callback", "https://cb"), ("Upstash-Retries", "1"),
                                  ("Upstash-Label", "x")])
    assert PublishOptions.from_dict(opts.to_dict()) == opts


@pytest.mark.parametrize("pairs, expected", [
    ([("Content-Type", "text/plain"), ("Upstash-Forward-Content-Type", "application/json")],
     {"Content-Type": ["application/json"]}),
    ([("upstash-forward-content-type", "application/json"), ("content-type", "text/plain")],
     {"Content-Type": ["application/json"]}),
    ([("Content-Type", "text/plain"), ("Content-Type", "text/csv")],
     {"Content-Type": ["text/csv"]}),
    ([("Upstash-Forward-Accept-Encoding", "gzip"), ("Upstash-Forward-accept-encoding", "br"),
      ("Upstash-Forward-X-Many", "1"), ("Upstash-Forward-X-Many", "2")],
     {"Accept-Encoding": ["br"], "X-Many": ["1", "2"]}),
])
def test_content_type_and_accept_encoding_keep_one_value(pairs, expected):
    assert parse_publish_headers(pairs).headers == expected
