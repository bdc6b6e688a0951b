"""URL groups: management API, fan-out publishing, default headers."""

from __future__ import annotations

import jwt
import pytest

from tests.e2e.helpers import api

pytestmark = pytest.mark.django_db(transaction=True)


def add_endpoints(qstash, group: str, *endpoints: dict) -> None:
    response = api(qstash, "POST", f"/v2/topics/{group}/endpoints",
                   json={"endpoints": list(endpoints)})
    assert response.status_code == 200, response.text


def test_group_lifecycle(qstash, sink):
    add_endpoints(qstash, "team", {"url": f"{sink.url}/a", "name": "alpha"},
                  {"url": f"{sink.url}/b"})
    group = api(qstash, "GET", "/v2/topics/team").json()
    assert group["name"] == "team" and group["createdAt"] <= group["updatedAt"]
    assert group["endpoints"] == [{"url": f"{sink.url}/a", "name": "alpha"},
                                  {"url": f"{sink.url}/b"}]
    assert [g["name"] for g in api(qstash, "GET", "/v2/topics").json()] == ["team"]
    removed = api(qstash, "DELETE", "/v2/topics/team/endpoints", json={"endpoints": [{"name": "alpha"}]})
    assert removed.status_code == 200
    assert api(qstash, "GET", "/v2/topics/team").json()["endpoints"] == [{"url": f"{sink.url}/b"}]
    api(qstash, "DELETE", "/v2/topics/team/endpoints", json={"endpoints": [{"url": f"{sink.url}/b"}]})
    assert api(qstash, "GET", "/v2/topics/team").status_code == 404  # empty groups disappear
    assert api(qstash, "DELETE", "/v2/topics/never-existed").status_code == 200


def test_publish_fans_out_once_per_endpoint_with_its_own_signature(qstash, sink):
    add_endpoints(qstash, "fan", {"url": f"{sink.url}/one", "name": "first"},
                  {"url": f"{sink.url}/two", "name": "second"})
    response = api(qstash, "POST", "/v2/publish/fan", content=b"hello")
    results = response.json()
    assert isinstance(results, list) and len(results) == 2
    assert {r["url"] for r in results} == {f"{sink.url}/one", f"{sink.url}/two"}
    arrivals = sink.wait_for(2)
    for arrival in arrivals:
        assert arrival.headers["Upstash-Topic-Name"] == "fan"
        claims = jwt.decode(arrival.headers["Upstash-Signature"], qstash.current_key,
                            algorithms=["HS256"], issuer="Upstash")
        assert claims["sub"] == sink.url + arrival.path
    assert sorted(a.path for a in sink.received()) == ["/one", "/two"]
    message = api(qstash, "GET", f"/v2/messages/{results[0]['messageId']}").json()
    assert message["topicName"] == "fan" and message["endpointName"] in ("first", "second")


def test_group_default_headers_apply_and_request_headers_win(qstash, sink):
    add_endpoints(qstash, "defaults", {"url": f"{sink.url}/d"})
    patched = api(qstash, "PATCH", "/v2/topics/defaults",
                  json={"headers": {"Upstash-Retries": "7", "Upstash-Forward-Team": ["blue"]}})
    assert patched.status_code == 200
    [first] = api(qstash, "POST", "/v2/publish/defaults", content=b"x",
                  headers={"Upstash-Delay": "1h"}).json()
    assert api(qstash, "GET", f"/v2/messages/{first['messageId']}").json()["maxRetries"] == 7
    [second] = api(qstash, "POST", "/v2/publish/defaults", content=b"x",
                   headers={"Upstash-Retries": "1"}).json()
    assert api(qstash, "GET", f"/v2/messages/{second['messageId']}").json()["maxRetries"] == 1
    assert sink.wait_for(1, "/d")[0].headers["Team"] == "blue"


def test_bad_group_requests(qstash):
    assert api(qstash, "POST", "/v2/topics/g/endpoints", json={"endpoints": []}).status_code == 400
    assert api(qstash, "POST", "/v2/topics/g/endpoints",
               json={"endpoints": [{"url": "ftp://x"}]}).status_code == 400
    assert api(qstash, "POST", "/v2/topics/bad name/endpoints",
               json={"endpoints": [{"url": "http://x"}]}).status_code == 400
    assert api(qstash, "PATCH", "/v2/topics/nope", json={"headers": {}}).status_code == 404
    assert api(qstash, "PATCH", "/v2/topics/nope", json={"headers": 3}).status_code == 400


def test_fan_out_messages_carry_group_in_events_dlq_and_callbacks(qstash, sink):
    add_endpoints(qstash, "failing", {"url": f"{sink.url}/status/500", "name": "broken"})
    [result] = api(qstash, "POST", "/v2/publish/failing", content=b"x",
                   headers={"Upstash-Retries": "0",
                            "Upstash-Failure-Callback": f"{sink.url}/failed"}).json()
    [failure] = sink.wait_for(1, "/failed")
    import json

    payload = json.loads(failure.body)
    assert payload["topicName"] == "failing" and payload["endpointName"] == "broken"
    events = api(qstash, "GET", "/v2/events", params={"topicName": "failing"}).json()["events"]
    assert events and all(e["topicName"] == "failing" for e in events)
    dlq = api(qstash, "GET", "/v2/dlq", params={"topicName": "failing"}).json()["messages"]
    assert [d["messageId"] for d in dlq] == [result["messageId"]]
    assert dlq[0]["endpointName"] == "broken"
