"""The schedules API over HTTP on a live server, with a real delivery to a loopback sink."""

from __future__ import annotations

import time
from datetime import datetime, timedelta, timezone

import pytest

from django_qstash.core.clock import FrozenClock, SystemClock, set_clock
from django_qstash.models import Schedule, UrlGroup, UrlGroupEndpoint
from tests.e2e.helpers import api

pytestmark = pytest.mark.django_db(transaction=True)
NEVER_SOON = "1 1 1 1 1"  # 01:01 on January 1st if it is a Monday: never during a test run


def create(qstash, destination: str, body: bytes | str = b"", **headers) -> str:
    headers = {k.replace("_", "-"): v for k, v in headers.items()}
    headers.setdefault("Upstash-Cron", NEVER_SOON)
    response = api(qstash, "POST", f"/v2/schedules/{destination}", content=body, headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["scheduleId"]


def get(qstash, schedule_id: str) -> dict:
    response = api(qstash, "GET", f"/v2/schedules/{schedule_id}")
    assert response.status_code == 200, response.text
    return response.json()


def test_create_get_list_and_json_shape(qstash):
    schedule_id = create(
        qstash, "https://example.com/hook?a=1", '{"hello":"world"}',
        Upstash_Cron="*/10 * * * *", Content_Type="application/json", Upstash_Method="GET",
        Upstash_Forward_Test_Header="test-value", Upstash_Retries="5", Upstash_Delay="10s",
        Upstash_Timeout="30s", Upstash_Callback="https://example.com/cb",
        Upstash_Callback_Forward_Token="t", Upstash_Failure_Callback="https://example.com/fail",
        Upstash_Retry_Delay="1000 * retried", Upstash_Label="nightly,reports",
        Upstash_Flow_Control_Key="fc", Upstash_Flow_Control_Value="parallelism=2, rate=10",
        Upstash_Telemetry_Sdk="upstash-qstash-js@2")
    assert schedule_id.startswith("scd_")
    data = get(qstash, schedule_id)
    assert data == {
        "scheduleId": schedule_id, "cron": "*/10 * * * *",
        "destination": "https://example.com/hook?a=1", "createdAt": data["createdAt"],
        "method": "GET", "retries": 5, "isPaused": False,
        "header": {"Content-Type": ["application/json"], "Test-Header": ["test-value"]},
        "body": '{"hello":"world"}', "delay": 10, "timeout": 30,
        "callback": "https://example.com/cb", "callbackHeader": {"Token": ["t"]},
        "failureCallback": "https://example.com/fail",
        "callerIp": "127.0.0.1", "callerIP": "127.0.0.1",
        "retryDelayExpression": "1000 * retried",
        "nextScheduleTime": data["nextScheduleTime"],
        "flowControlKey": "fc", "parallelism": 2, "rate": 10, "period": 1,
        "label": "nightly", "labels": ["nightly", "reports"],
    }
    assert data["nextScheduleTime"] % 600_000 == 0 and data["nextScheduleTime"] > data["createdAt"]
    assert abs(data["createdAt"] - time.time() * 1000) < 60_000
    listed = api(qstash, "GET", "/v2/schedules").json()
    assert [s["scheduleId"] for s in listed] == [schedule_id]
    assert get(qstash, schedule_id) == listed[0]


def test_defaults_binary_body_and_go_sdk_capitalisation(qstash):
    response = api(qstash, "POST", "/v2/Schedules/https://example.com", content=b"\xff\x00",
                   headers={"Upstash-Cron": NEVER_SOON,
                            "Content-Type": "application/octet-stream"})
    schedule_id = response.json()["scheduleId"]
    data = api(qstash, "GET", f"/v2/Schedules/{schedule_id}").json()
    assert (data["method"], data["retries"]) == ("POST", 3)
    assert data["header"] == {"Content-Type": ["application/octet-stream"]}
    assert data["bodyBase64"] == "/wA=" and "body" not in data


def test_overwrite_by_id_is_a_full_overwrite(qstash):
    first = create(qstash, "https://example.com/initial", "my-payload",
                   Upstash_Schedule_Id="edit-me", Upstash_Retries="9")
    second = create(qstash, "https://example.com/updated", Upstash_Schedule_Id="edit-me",
                    Upstash_Cron="*/5 * * * *")
    assert first == second == "edit-me"
    [data] = api(qstash, "GET", "/v2/schedules").json()
    assert (data["destination"], data["cron"], data["retries"]) == (
        "https://example.com/updated", "*/5 * * * *", 3)
    assert "body" not in data


def test_pause_resume_with_patch_and_post_and_delete(qstash):
    schedule_id = create(qstash, "https://example.com")
    for method in ("PATCH", "POST"):
        assert api(qstash, method, f"/v2/schedules/{schedule_id}/pause").status_code == 200
        assert get(qstash, schedule_id)["isPaused"] is True
        assert api(qstash, method, f"/v2/schedules/{schedule_id}/pause").status_code == 200
        assert api(qstash, method, f"/v2/schedules/{schedule_id}/resume").status_code == 200
        assert get(qstash, schedule_id)["isPaused"] is False
    assert api(qstash, "DELETE", f"/v2/schedules/{schedule_id}").status_code == 200
    assert api(qstash, "GET", "/v2/schedules").json() == []
    for method, path in [("GET", ""), ("DELETE", ""), ("PATCH", "/pause"), ("POST", "/resume")]:
        response = api(qstash, method, f"/v2/schedules/{schedule_id}{path}")
        assert response.status_code == 404 and "not found" in response.json()["error"]


@pytest.mark.parametrize("headers, message", [
    ({}, "Upstash-Cron header is required"),
    ({"Upstash-Cron": "61 * * * *"}, "minute field '61'"),
    ({"Upstash-Cron": "* * * * * *"}, "5 fields"),
    ({"Upstash-Cron": "CRON_TZ=Europe/Berln 0 9 * * *"}, "unknown time zone 'Europe/Berln'"),
    ({"Upstash-Cron": NEVER_SOON, "Upstash-Schedule-Id": "bad id!"}, "Upstash-Schedule-Id"),
    ({"Upstash-Cron": NEVER_SOON, "Upstash-Retries": "x"}, "Upstash-Retries"),
])
def test_invalid_input_is_a_400_that_says_why(qstash, headers, message):
    response = api(qstash, "POST", "/v2/schedules/https://example.com", headers=headers)
    assert response.status_code == 400 and message in response.json()["error"]
    assert not Schedule.objects.exists()


def test_to_queue_and_to_url_group(qstash):
    queued = create(qstash, "https://example.com/q", "x", Upstash_Queue_Name="scheduleQueue",
                    Upstash_Delay="10s", Upstash_Cron="CRON_TZ=America/New_York 0 9 * * 1-5")
    data = get(qstash, queued)
    assert (data["queueName"], data["delay"]) == ("scheduleQueue", 10)
    assert data["cron"] == "CRON_TZ=America/New_York 0 9 * * 1-5"
    group = UrlGroup.objects.create(tenant=qstash.tenant, name="team")
    UrlGroupEndpoint.objects.create(group=group, url="https://example.com/a")
    assert get(qstash, create(qstash, "team"))["destination"] == "team"
    response = api(qstash, "POST", "/v2/schedules/no-such-group",
                   headers={"Upstash-Cron": NEVER_SOON})
    assert response.status_code in (400, 404) and "no-such-group" in response.json()["error"]


def test_schedules_are_tenant_scoped(qstash, other_tenant):
    schedule_id = create(qstash, "https://example.com")
    other = {"Authorization": f"Bearer {other_tenant.token}"}
    assert api(qstash, "GET", "/v2/schedules", headers=other).json() == []
    assert api(qstash, "GET", f"/v2/schedules/{schedule_id}", headers=other).status_code == 404
    assert api(qstash, "DELETE", f"/v2/schedules/{schedule_id}", headers=other).status_code == 404
    assert get(qstash, schedule_id)["scheduleId"] == schedule_id


@pytest.fixture
def live_clock():
    # Frozen at the real time, so signatures and leases stay sensible, and moved by hand.
    clock = FrozenClock(datetime.now(timezone.utc))
    set_clock(clock)
    yield clock
    set_clock(SystemClock())


def test_fired_message_is_delivered_with_the_schedule_id(qstash, sink, live_clock):
    schedule_id = create(qstash, f"{sink.url}/cron", "tick", Upstash_Cron="* * * * *",
                         Upstash_Forward_X_Job="report")
    live_clock.advance(timedelta(minutes=1).total_seconds())
    [arrival] = sink.wait_for(1, "/cron")
    assert arrival.headers["Upstash-Schedule-Id"] == schedule_id
    assert (arrival.body, arrival.headers["X-Job"]) == (b"tick", "report")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        data = get(qstash, schedule_id)
        if list(data.get("lastScheduleStates", {}).values()) == ["SUCCESS"]:
            break
        time.sleep(0.05)
    assert list(data["lastScheduleStates"].values()) == ["SUCCESS"]
    [message_id] = data["lastScheduleStates"]
    assert arrival.headers["Upstash-Message-Id"] == message_id
    message = api(qstash, "GET", f"/v2/messages/{message_id}").json()
    assert message["scheduleId"] == schedule_id
    assert data["lastScheduleTime"] <= data["nextScheduleTime"] - 1
