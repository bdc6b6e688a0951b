"""Every way a destination URL gets in, each taking a URL and saying what became of it."""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count

from django.core.management import CommandError, call_command
from django.db import transaction

from django_qstash import client
from django_qstash.admin.schedules import ScheduleForm
from django_qstash.admin.url_groups import EndpointForm
from django_qstash.core import clock, ids
from django_qstash.engine import scheduler
from django_qstash.engine.publishing import save_messages
from django_qstash.exceptions import ApiError
from django_qstash.models import DlqEntry, Message, Schedule, UrlGroup, UrlGroupEndpoint
from tests.e2e.helpers import api

RETRIES = {"Upstash-Retries": "3"}  # a refusal must not be retried: RETRY would show
NEVER = "0 0 1 1 *"  # schedules fire through run_now, not the clock
_names = count()


@dataclass
class Context:
    qstash: object  # tests.conftest.LiveQStash
    allowed_url: str  # a loopback sink the allow-list opens, for the messages callbacks follow


@dataclass
class Outcome:
    refused_at_door: str = ""  # the error of a 400 (or of a batch item, a form, a command)
    message_ids: list[str] = field(default_factory=list)  # accepted: each must be refused


def _name(prefix: str) -> str:
    return f"{prefix}-{next(_names)}"


def _answer(response) -> Outcome:
    assert response.status_code in (200, 201, 202, 400), (response.status_code, response.text)
    data = response.json()
    if response.status_code == 400:
        assert isinstance(data["error"], str) and data["error"], data
        return Outcome(refused_at_door=data["error"])
    items = data if isinstance(data, list) else [data]
    return Outcome(message_ids=[item["messageId"] for item in items])


def _batch_item(ctx: Context, item: dict) -> Outcome:
    response = api(ctx.qstash, "POST", "/v2/batch", json=[item])
    assert response.status_code == 200, response.text
    [answer] = response.json()
    if isinstance(answer, dict) and "error" in answer:
        assert answer["error"], answer
        return Outcome(refused_at_door=answer["error"])
    answers = answer if isinstance(answer, list) else [answer]
    return Outcome(message_ids=[a["messageId"] for a in answers])


def _wait_for_sources(source_ids: list[str], kind: str, timeout: float = 20) -> list[str]:
    """The callbacks of ``source_ids``: created once their sources are delivered or failed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = list(Message.objects.filter(source_message_id__in=source_ids, kind=kind)
                     .values_list("id", flat=True))
        if len(found) == len(source_ids):
            return found
        time.sleep(0.05)
    raise AssertionError(f"no {kind} message for {source_ids}")


def _follow_callbacks(outcome: Outcome, kind: str) -> Outcome:
    if outcome.refused_at_door:
        return outcome
    return Outcome(message_ids=_wait_for_sources(outcome.message_ids, kind))


def _fire(schedule_id: str) -> Outcome:
    schedule = Schedule.objects.get(schedule_id=schedule_id)
    scheduler.run_now(schedule)
    return Outcome(message_ids=list(Message.objects.filter(schedule_id=schedule_id)
                                    .values_list("id", flat=True)))


def _add_endpoint(ctx: Context, group: str, url: str) -> Outcome | None:
    response = api(ctx.qstash, "POST", f"/v2/topics/{group}/endpoints",
                   json={"endpoints": [{"url": url}]})
    if response.status_code == 400:
        return _answer(response)
    assert response.status_code == 200, response.text
    return None


def _legacy_message(ctx: Context, url: str) -> str:
    """A row as an older version stored it: the URL exactly as it was published."""
    now = clock.now()
    message = Message(id=ids.message_id(), tenant=ctx.qstash.tenant, url=url, method="POST",
                      body=b"secret", max_retries=3, not_before=now, created_at=now)
    with transaction.atomic():
        save_messages([message], now)
    return message.id


# --- the paths --------------------------------------------------------------------------------

def publish(ctx: Context, url: str) -> Outcome:
    return _answer(api(ctx.qstash, "POST", f"/v2/publish/{url}", content=b"secret",
                       headers=RETRIES))


def enqueue(ctx: Context, url: str) -> Outcome:
    return _answer(api(ctx.qstash, "POST", f"/v2/enqueue/{_name('q')}/{url}",
                       content=b"secret", headers=RETRIES))


def batch(ctx: Context, url: str) -> Outcome:
    return _batch_item(ctx, {"destination": url, "headers": RETRIES, "body": "secret"})


def url_group_endpoint(ctx: Context, url: str) -> Outcome:
    group = _name("group")
    return _add_endpoint(ctx, group, url) or publish(ctx, group)


def url_group_endpoint_admin(ctx: Context, url: str) -> Outcome:
    form = EndpointForm(data={"url": url, "name": ""})
    if not form.is_valid():
        return Outcome(refused_at_door=str(form.errors["url"]))
    group = UrlGroup.objects.create(tenant=ctx.qstash.tenant, name=_name("admin-group"))
    UrlGroupEndpoint.objects.create(group=group, url=form.cleaned_data["url"])
    return publish(ctx, group.name)


def url_group_endpoint_legacy(ctx: Context, url: str) -> Outcome:
    group = UrlGroup.objects.create(tenant=ctx.qstash.tenant, name=_name("legacy-group"))
    UrlGroupEndpoint.objects.create(group=group, url=url)  # stored before URLs were parsed
    return publish(ctx, group.name)


def callback(ctx: Context, url: str) -> Outcome:
    # Header values travel as bytes: UTF-8, as a client sends a non-ASCII value.
    outcome = _answer(api(ctx.qstash, "POST", f"/v2/publish/{ctx.allowed_url}/ok",
                          content=b"x", headers={"Upstash-Callback": url.encode(),
                                                 "Upstash-Callback-Retries": "3"}))
    return _follow_callbacks(outcome, Message.Kind.CALLBACK)


def failure_callback(ctx: Context, url: str) -> Outcome:
    outcome = _answer(api(ctx.qstash, "POST", f"/v2/publish/{ctx.allowed_url}/status/500",
                          content=b"x", headers={"Upstash-Retries": "0",
                                                 "Upstash-Failure-Callback": url.encode(),
                                                 "Upstash-Failure-Callback-Retries": "3"}))
    return _follow_callbacks(outcome, Message.Kind.FAILURE_CALLBACK)


def batch_callback(ctx: Context, url: str) -> Outcome:
    outcome = _batch_item(ctx, {"destination": f"{ctx.allowed_url}/ok", "body": "x",
                                "headers": {"Upstash-Callback": url,
                                            "Upstash-Callback-Retries": "3"}})
    return _follow_callbacks(outcome, Message.Kind.CALLBACK)


def batch_failure_callback(ctx: Context, url: str) -> Outcome:
    outcome = _batch_item(ctx, {"destination": f"{ctx.allowed_url}/status/500", "body": "x",
                                "headers": {"Upstash-Retries": "0",
                                            "Upstash-Failure-Callback": url,
                                            "Upstash-Failure-Callback-Retries": "3"}})
    return _follow_callbacks(outcome, Message.Kind.FAILURE_CALLBACK)


def schedule(ctx: Context, url: str) -> Outcome:
    response = api(ctx.qstash, "POST", f"/v2/schedules/{url}", content=b"secret",
                   headers={"Upstash-Cron": NEVER, **RETRIES})
    if response.status_code == 400:
        return _answer(response)
    assert response.status_code == 200, response.text
    return _fire(response.json()["scheduleId"])


def schedule_admin(ctx: Context, url: str) -> Outcome:
    form = ScheduleForm(data={
        "tenant": ctx.qstash.tenant.pk, "schedule_id": "", "expression": NEVER,
        "time_zone": "", "destination": url, "queue_name": "", "headers": "Upstash-Retries: 3",
        "body_text": "secret"})
    if not form.is_valid():
        return Outcome(refused_at_door=str(form.errors))
    return _fire(form.save().schedule_id)


def schedule_url_group(ctx: Context, url: str) -> Outcome:
    group = _name("scheduled-group")
    refused = _add_endpoint(ctx, group, url)
    if refused:
        return refused
    response = api(ctx.qstash, "POST", f"/v2/schedules/{group}", content=b"secret",
                   headers={"Upstash-Cron": NEVER, **RETRIES})
    assert response.status_code == 200, response.text
    return _fire(response.json()["scheduleId"])


def legacy_message(ctx: Context, url: str) -> Outcome:
    return Outcome(message_ids=[_legacy_message(ctx, url)])


def dlq_retry(ctx: Context, url: str) -> Outcome:
    """A legacy row lands in the DLQ; retrying it must be refused again."""
    original = _legacy_message(ctx, url)
    deadline = time.monotonic() + 20
    while not (entry := DlqEntry.objects.filter(message_id=original).first()):
        assert time.monotonic() < deadline, f"{original} never reached the DLQ"
        time.sleep(0.05)
    assert entry.error.startswith("refused: destination"), entry.error
    response = api(ctx.qstash, "POST", f"/v2/dlq/retry/{entry.dlq_id}")
    assert response.status_code == 201, response.text
    return Outcome(message_ids=[response.json()["messageId"]])


def python_client(ctx: Context, url: str) -> Outcome:
    try:
        return Outcome(message_ids=[client.publish(url, b"secret", retries=3,
                                                   tenant=ctx.qstash.tenant)])
    except ApiError as exc:
        return Outcome(refused_at_door=exc.message)


def publish_command(ctx: Context, url: str) -> Outcome:
    out = io.StringIO()
    try:
        call_command("qstash_publish", url, "--tenant", ctx.qstash.tenant.name,
                     "--body", "secret", "--retries", "3", "--no-wait", stdout=out)
    except CommandError as exc:
        return Outcome(refused_at_door=str(exc))
    answer = json.loads(out.getvalue())
    return Outcome(message_ids=[a["messageId"] for a in
                                (answer if isinstance(answer, list) else [answer])])


PATHS: dict[str, Callable[[Context, str], Outcome]] = {
    "publish": publish,
    "enqueue": enqueue,
    "batch": batch,
    "url-group endpoint (API)": url_group_endpoint,
    "url-group endpoint (admin)": url_group_endpoint_admin,
    "url-group endpoint (stored before)": url_group_endpoint_legacy,
    "Upstash-Callback header": callback,
    "Upstash-Failure-Callback header": failure_callback,
    "batch callback": batch_callback,
    "batch failure callback": batch_failure_callback,
    "schedule (API)": schedule,
    "schedule (admin)": schedule_admin,
    "schedule to a URL group": schedule_url_group,
    "message stored before": legacy_message,
    "DLQ retry": dlq_retry,
    "django_qstash.client": python_client,
    "qstash_publish": publish_command,
}
