"""Field values for messages that exercise every column: unicode, bytes, nulls, time zones, JSON."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from django_qstash.models import Message

KOLKATA = ZoneInfo("Asia/Kolkata")  # a non-UTC offset with half hours
ALL_BYTES = bytes(range(256))


def message_cases(now: datetime) -> dict[str, dict]:
    """Field values for one message each, beyond id and tenant; every column is exercised."""
    return {
        "required only": dict(url="https://example.com/", not_before=now, created_at=now),
        "every column": dict(
            kind=Message.Kind.CALLBACK, source_message_id="msg_source", url="https://example.com/x?a=1",
            method="PUT", headers={"Content-Type": ["application/json"], "X-Many": ["1", "2"]},
            body=b'{"a": 1}', topic_name="t", endpoint_name="e", queue_name="q",
            schedule_id="scd_1", caller_ip="2001:db8::1", max_retries=0, retried=2,
            retry_delay_expression="pow(2, retried) * 1000", timeout_seconds=7,
            callback="https://example.com/cb", callback_headers={"A": ["b"]},
            callback_options={"method": "PUT", "retries": None, "timeout": 5},
            failure_callback="https://example.com/fcb", failure_callback_headers={"B": ["c"]},
            failure_callback_options={"delay": 10}, labels=["billing", "eu"],
            label_index=",billing,eu,", redact_fields=["body", "header[Authorization]"],
            flow_control_key="fck", flow_control_parallelism=3, flow_control_rate=10,
            flow_control_period=60, deduplication_id="dedup-1", status=Message.Status.ACTIVE,
            cancel_requested=True, not_before=now + timedelta(microseconds=123457),
            created_at=now, finished_at=now + timedelta(seconds=3),
            lease_expires_at=now + timedelta(minutes=5), claim_token=2**31 - 1),
        "unicode": dict(
            url="https://例え.jp/パス?q=✓", headers={"X-Name": ["Zoë", "日本語", "🙂"]},
            body="héllo wörld 🙂".encode(), labels=["ünï", "日本"], label_index=",ünï,日本,",
            callback_options={"note": "naïve \u2028 line"}, caller_ip="::1", topic_name="tö",
            not_before=now, created_at=now),
        "binary body": dict(url="https://example.com/", body=b"\x00" + ALL_BYTES * 4,
                            not_before=now, created_at=now),
        "empty body and json": dict(url="https://example.com/", body=b"", headers={},
                                    labels=[], redact_fields=[], callback_options={},
                                    not_before=now, created_at=now),
        "large body": dict(url="https://example.com/", body=ALL_BYTES * 4096 + b"end",
                           headers={f"X-H{i}": [str(i) * 50] for i in range(60)},
                           not_before=now, created_at=now),
        "nested json": dict(url="https://example.com/",
                            callback_options={"a": {"b": [1, 2.5, True, False, None, "s"]},
                                              "empty": {}, "list": []},
                            not_before=now, created_at=now),
        "other time zones": dict(url="https://example.com/",
                                 not_before=datetime(2031, 3, 30, 2, 30, 0, 1, tzinfo=KOLKATA),
                                 created_at=now.astimezone(KOLKATA),
                                 finished_at=datetime(1999, 12, 31, 23, 59, 59, 999999,
                                                      tzinfo=timezone(timedelta(hours=-11)))),
    }
