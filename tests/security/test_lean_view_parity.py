"""The lean POST path (LeanQStashView) answers every request as DRF's path (QStashView) would."""

from __future__ import annotations

import io
import json
import re
from dataclasses import dataclass, field

import pytest
from django.core.cache import caches
from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.db import OperationalError
from django.http import Http404
from django.test import RequestFactory
from django.urls import resolve

from django_qstash.api.base import QStashView
from django_qstash.api.lean import LeanQStashView
from django_qstash.api.views.publish import BatchView, EnqueueView, PublishView
from django_qstash.core import clock
from django_qstash.core.clock import FrozenClock, SystemClock, set_clock
from django_qstash.db.group_commit import GroupCommitTimeout
from django_qstash.engine.tenants import create_tenant
from django_qstash.exceptions import BadRequest
from django_qstash.models import ApiToken

pytestmark = pytest.mark.django_db

DESTINATION = "http://127.0.0.1:9/hook"  # loopback: nothing is sent (no commit), nothing leaves
# Headers whose value is part of the answer; DRF adds Vary and Allow, which no client reads.
ANSWER_HEADERS = re.compile(r"^(content-type|www-authenticate|retry-after|(burst-)?ratelimit-.*)$",
                            re.IGNORECASE)
MESSAGE_ID = re.compile(r"msg_[A-Za-z0-9]+")


@dataclass
class Call:
    path: str
    body: bytes = b"hello"
    token: str | None = "rw"  # which of the world's tokens, or None
    via: str = "header"  # or "query": ?qstash_token=
    headers: dict = field(default_factory=dict)
    content_type: str = "text/plain"
    meta: dict = field(default_factory=dict)  # what the WSGI server puts in the environ


def world(name: str) -> dict[str, str]:
    """A tenant with a read-write, a read-only and a revoked token."""
    tenant = create_tenant(name)
    tokens = {"rw": ApiToken.issue(tenant, name="rw")[1],
              "ro": ApiToken.issue(tenant, name="ro", read_only=True)[1]}
    revoked, tokens["revoked"] = ApiToken.issue(tenant, name="revoked")
    ApiToken.objects.filter(pk=revoked.pk).revoke()
    tokens["wrong"] = "qst_not_a_token_of_anyone"
    return tokens


def full_path(view_class):
    """The same view answered by DRF's dispatch: QStashView's path, with the same ``post``."""
    return type(f"Full{view_class.__name__}", (view_class,),
                {"dispatch": QStashView.dispatch}).as_view()


def request_for(call: Call, tokens: dict):
    path, headers = call.path, dict(call.headers)
    raw = tokens.get(call.token) if call.token else None
    if raw and call.via == "header":
        headers["Authorization"] = f"Bearer {raw}"
    elif raw:
        path += ("&" if "?" in path else "?") + f"qstash_token={raw}"
    request = RequestFactory().post(path, data=call.body, content_type=call.content_type,
                                    headers=headers)
    # A stream of its own per request: each path reads the body to its end.
    request.META.update({k: io.BytesIO(v) if k == "wsgi.input" else v for k, v in call.meta.items()})
    return request


def answer(response) -> tuple:
    if hasattr(response, "render"):  # DRF's Response; Django's handler renders it the same way
        response = response.render()
    body = response.content.decode()
    return (response.status_code,
            {k.lower(): v for k, v in response.items() if ANSWER_HEADERS.match(k)},
            json.loads(MESSAGE_ID.sub("msg_…", body)))


def both_answers(calls: list[Call]) -> tuple[list, list]:
    """Each path gets its own tenant (rate limits and quotas count per token and tenant)."""
    answers = []
    for label, through in (("lean", lambda cls: cls.as_view()), ("full", full_path)):
        tokens = world(f"parity-{label}")
        seen = []
        for call in calls:
            request = request_for(call, tokens)
            match = resolve(request.path_info)
            view = through(match.func.view_class)
            seen.append(answer(view(request, *match.args, **match.kwargs)))
        answers.append(seen)
    return answers[0], answers[1]


@pytest.fixture(autouse=True)
def steady_clock_and_empty_limits():
    # One clock reading for both paths: the burst window and reset times are the same.
    set_clock(FrozenClock(clock.now()))
    caches["default"].clear()
    yield
    set_clock(SystemClock())
    caches["default"].clear()


def test_the_urlconf_sends_posts_down_the_lean_path():
    for path, view in [(f"/v2/publish/{DESTINATION}", PublishView),
                       (f"/v2/enqueue/q/{DESTINATION}", EnqueueView), ("/v2/batch", BatchView)]:
        assert resolve(path).func.view_class is view
        assert view.dispatch is LeanQStashView.dispatch
    assert full_path(PublishView).view_class.dispatch is not LeanQStashView.dispatch


PUBLISH = f"/v2/publish/{DESTINATION}"
BATCH_ITEMS = [{"destination": DESTINATION, "body": "a", "headers": {"Upstash-Delay": "1m"}},
               {"destination": "not a url at all"}, {"destination": DESTINATION, "queue": "q"}]
SCENARIOS = {
    "publish": [Call(PUBLISH, headers={"Upstash-Label": "l", "Upstash-Forward-X": "ü"})],
    "enqueue": [Call(f"/v2/enqueue/orders/{DESTINATION}")],
    "batch": [Call("/v2/batch", json.dumps(BATCH_ITEMS).encode(), content_type="application/json")],
    "empty batch": [Call("/v2/batch", b"[]", content_type="application/json")],
    "token in the query": [Call(PUBLISH, via="query"), Call("/v2/batch", b"[]", via="query")],
    "deduplicated": [Call(PUBLISH, headers={"Upstash-Deduplication-Id": "d"})] * 2,
    "no token": [Call(PUBLISH, token=None), Call("/v2/batch", b"[]", token=None)],
    "not a bearer token": [Call(PUBLISH, token=None, headers={"Authorization": "Basic eDp5"})],
    "wrong token": [Call(PUBLISH, token="wrong"), Call(PUBLISH, token="wrong", via="query")],
    "revoked token": [Call(PUBLISH, token="revoked"), Call("/v2/batch", b"[]", token="revoked")],
    "read-only token": [Call(PUBLISH, token="ro"), Call("/v2/batch", b"[]", token="ro", via="query"),
                        Call(f"/v2/enqueue/q/{DESTINATION}", token="ro")],
    "bad destination": [Call("/v2/publish/ftp://127.0.0.1/x"), Call("/v2/publish/no-such-group")],
    "bad headers": [Call(PUBLISH, headers={"Upstash-Delay": "soon"}),
                    Call(PUBLISH, headers={"Upstash-Retries": "-1"})],
    "batch not a list": [Call("/v2/batch", b'{"destination": "x"}')],
    "batch not json": [Call("/v2/batch", b"[{")],
    "batch item not an object": [Call("/v2/batch", b'[1, "x"]')],
    "NUL in a batch key": [Call("/v2/batch", b'[{"destination\\u0000": "x"}]')],
    "lone surrogate in a batch": [Call("/v2/batch", b'[{"destination": "\\udc80"}]')],
    "NUL in the query": [Call(PUBLISH + "?a=%00")],
    "NUL in the path": [Call("/v2/publish/http://127.0.0.1:9/a%00b")],
    "lone surrogate in a header": [Call(PUBLISH, headers={"Upstash-Forward-X": "\udc80"})],
    "chunked body, framing decoded": [Call(PUBLISH, meta={
        "CONTENT_LENGTH": "", "wsgi.input_terminated": True, "wsgi.input": b"chunked body"})],
    "chunked body, framing not decoded": [Call(PUBLISH, meta={
        "CONTENT_LENGTH": "", "HTTP_TRANSFER_ENCODING": "chunked"})],
    "invalid content length": [Call(PUBLISH, meta={"CONTENT_LENGTH": "many"})],
    "accept header": [Call(PUBLISH, headers={"Accept": "text/html"}),
                      Call("/v2/batch", b"[]", headers={"Accept": "application/xml"})],
    "format in the destination query": [Call(PUBLISH + "?format=csv"),
                                        Call(PUBLISH + "?format=json&x=1")],
}


@pytest.mark.parametrize("name", list(SCENARIOS))
def test_both_paths_answer_alike(name):
    lean, full = both_answers(SCENARIOS[name])
    assert lean == full
    assert all(status < 500 for status, _, _ in lean), lean  # bad input is never a 500


@pytest.mark.parametrize(("setting", "value", "calls", "statuses"), [
    ("MAX_BODY_BYTES", 4, [Call(PUBLISH, b"12345"), Call("/v2/batch", b"[  ]  ")], [413, 413]),
    ("MAX_HEADER_COUNT", 3, [Call(PUBLISH, headers={f"Upstash-Forward-X{i}": "v" for i in range(4)})],
     [431]),
    ("MAX_HEADER_BYTES", 64, [Call(PUBLISH, headers={"Upstash-Forward-X": "v" * 80})], [431]),
    ("MAX_BATCH_SIZE", 2, [Call("/v2/batch", json.dumps(BATCH_ITEMS).encode())], [400]),
    ("API_BURST_RATE_LIMIT", 2, [Call(PUBLISH), Call("/v2/batch", b"[]"), Call(PUBLISH),
                                 Call(PUBLISH, token=None)], [200, 200, 429, 401]),
    ("DAILY_MESSAGE_QUOTA", 3, [Call(PUBLISH), Call("/v2/batch", json.dumps(BATCH_ITEMS).encode()),
                                Call(PUBLISH), Call(PUBLISH)], [200, 200, 429, 429]),
], ids=lambda value: value if isinstance(value, str) else None)
def test_both_paths_apply_the_same_limits(settings, setting, value, calls, statuses):
    settings.QSTASH = {**settings.QSTASH, setting: value}
    lean, full = both_answers(calls)
    assert lean == full
    assert [status for status, _, _ in lean] == statuses
    for status, headers, _ in lean:
        if status == 429:  # the SDKs read these to tell a burst limit from the daily quota
            assert any(name.endswith("ratelimit-remaining") for name in headers), headers


@pytest.mark.parametrize("path", ["/v2/events", "/v2/keys", "/v2/queues", "/v2/topics", "/v2/schedules",
                                  "/v2/dlq", "/v2/logs"])
@pytest.mark.parametrize(("query", "accept"), [("", "text/html"), ("?format=csv", "*/*"),
                                               ("?format=api", "application/xml")])
def test_every_endpoint_answers_json_whatever_the_client_asks_for(client, path, query, accept):
    """As QStash does and as the lean path does: Accept and ?format= are not consulted."""
    token = world("parity-accept")["rw"]
    response = client.get(path + query, headers={"Authorization": f"Bearer {token}",
                                                 "Accept": accept})
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json"
    json.loads(response.content)


def test_a_schedule_destination_keeps_its_format_parameter(client):
    """The DRF path takes the destination's query as the lean one does: ?format= is its own."""
    token = world("parity-schedule")["rw"]
    response = client.post(f"/v2/schedules/{DESTINATION}?format=csv", data=b"x",
                           content_type="text/plain",
                           headers={"Authorization": f"Bearer {token}", "Upstash-Cron": "* * * * *"})
    assert response.status_code == 200, response.content
    schedule_id = response.json()["scheduleId"]
    listed = client.get(f"/v2/schedules/{schedule_id}", headers={"Authorization": f"Bearer {token}"})
    assert listed.json()["destination"] == f"{DESTINATION}?format=csv"


def raising(exc: Exception):
    class Raising(LeanQStashView):
        def post(self, request, *args, **kwargs):
            raise exc

    return Raising


@pytest.mark.parametrize("exc", [
    Http404(), Http404("no such thing"), DjangoPermissionDenied(), ValueError("a bug"),
    OperationalError("connection refused"), GroupCommitTimeout("slow", stored_unknown=True),
    BadRequest("nope", status=431), RequestDataTooBig(),
], ids=lambda exc: type(exc).__name__)
def test_unexpected_errors_get_the_same_answer_on_both_paths(exc):
    tokens = world("parity-errors")
    answers = []
    for view in (raising(exc).as_view(), full_path(raising(exc))):
        request = request_for(Call(PUBLISH), tokens)
        answers.append(answer(view(request)))
    assert answers[0] == answers[1]
    status, _, body = answers[0]
    assert status >= 400 and set(body) == {"error"} and body["error"].strip(), answers[0]
