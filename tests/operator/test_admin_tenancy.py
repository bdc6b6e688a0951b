"""Staff scoped to one tenant see, change and act on that tenant's rows only, in every admin."""

from __future__ import annotations

import json

import pytest
from django.contrib.admin.utils import quote
from django.contrib.auth.models import Group, Permission, User

from django_qstash.engine import scheduler
from django_qstash.models import (
    ApiToken,
    DlqEntry,
    Event,
    FlowControlKey,
    Message,
    Queue,
    Schedule,
    SigningKeyPair,
    Tenant,
    UrlGroup,
    WorkflowRun,
)

from .factories import make_dlq, make_message, make_run

ADMIN = "/admin/django_qstash"
SECRET = "Bearer b-secret-forwarded-to-b-only"


@pytest.fixture
def scoped(client, tenant):
    """A staff user with every django_qstash permission, in the group of tenant ``ops`` only."""
    user = User.objects.create_user("scoped", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_qstash"))
    user.groups.add(Group.objects.create(name=f"qstash-tenant:{tenant.name}"))
    client.force_login(user)
    return client


def b_schedule(tenant_b) -> Schedule:
    return scheduler.create_or_replace(
        tenant_b, "https://b.example.com/hook", b"b-body-secret",
        [("Upstash-Cron", "0 12 * * *"), ("Upstash-Forward-Authorization", SECRET)])


def schedule_form(tenant, **overrides) -> dict:
    data = {"tenant": tenant.pk, "schedule_id": "", "expression": "0 9 * * *", "time_zone": "",
            "destination": "https://example.com/hook", "queue_name": "", "headers": "",
            "body_text": "hello", "_save": "Save"}
    data.update(overrides)
    return data


def act(client, model: str, action: str, *objects):
    return client.post(f"{ADMIN}/{model}/", {"action": action,
                                             "_selected_action": [o.pk for o in objects]})


def test_schedule_list_and_change_page_hide_other_tenants(scoped, tenant, tenant_b):
    ours = scheduler.create_or_replace(tenant, "https://a.example.com/hook", b"",
                                       [("Upstash-Cron", "0 12 * * *")])
    theirs = b_schedule(tenant_b)
    page = scoped.get(f"{ADMIN}/schedule/").content.decode()
    assert ours.schedule_id in page and theirs.schedule_id not in page
    assert tenant_b.name not in page  # not even in the tenant filter
    change = scoped.get(f"{ADMIN}/schedule/{theirs.pk}/change/")
    assert change.status_code == 302  # "does not exist", the secret is never rendered
    assert SECRET not in change.content.decode()
    posted = scoped.post(f"{ADMIN}/schedule/{theirs.pk}/change/",
                         schedule_form(tenant_b, destination="https://evil.example.com/"))
    assert posted.status_code == 302
    assert Schedule.objects.get(pk=theirs.pk).destination == "https://b.example.com/hook"


def test_schedule_add_offers_and_accepts_only_own_tenants(scoped, tenant, tenant_b):
    page = scoped.get(f"{ADMIN}/schedule/add/").content.decode()
    assert f'value="{tenant.pk}"' in page and f'value="{tenant_b.pk}"' not in page
    response = scoped.post(f"{ADMIN}/schedule/add/", schedule_form(tenant_b))
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    assert not Schedule.objects.filter(tenant=tenant_b).exists()
    assert scoped.post(f"{ADMIN}/schedule/add/", schedule_form(tenant)).status_code == 302
    assert Schedule.objects.filter(tenant=tenant).count() == 1


def test_schedule_actions_skip_other_tenants(scoped, tenant, tenant_b):
    theirs = b_schedule(tenant_b)
    for action in ("run_now", "pause"):
        act(scoped, "schedule", action, theirs)
    assert not Message.objects.filter(tenant=tenant_b).exists()  # nothing signed with B's key
    assert Schedule.objects.get(pk=theirs.pk).paused is False


def _rows(tenant) -> dict:
    """One row of every tenant-owned admin model, keyed by the admin's URL name."""
    message = make_message(tenant, status="pending")
    dlq = make_dlq(tenant)
    return {
        "message": message,
        "dlqentry": dlq,
        "event": Event.objects.filter(message_id=message.id).first(),
        "queue": Queue.objects.create(tenant=tenant, name=f"q-{tenant.name}"),
        "flowcontrolkey": FlowControlKey.objects.create(tenant=tenant, key=f"k-{tenant.name}"),
        "urlgroup": UrlGroup.objects.create(tenant=tenant, name=f"g-{tenant.name}"),
        "signingkeypair": SigningKeyPair.objects.get(tenant=tenant),
        "apitoken": ApiToken.issue(tenant, name=f"t-{tenant.name}")[0],
        "tenant": tenant,
        "schedule": b_schedule(tenant),
        "workflowrun": make_run(tenant, failed=True),
    }


@pytest.mark.parametrize("model", ["message", "dlqentry", "event", "queue", "flowcontrolkey",
                                   "urlgroup", "signingkeypair", "apitoken", "tenant",
                                   "schedule", "workflowrun"])
def test_every_admin_hides_other_tenants_rows(scoped, tenant, tenant_b, model):
    ours, theirs = _rows(tenant)[model], _rows(tenant_b)[model]
    listing = scoped.get(f"{ADMIN}/{model}/")
    assert listing.status_code == 200
    assert f"/{model}/{quote(ours.pk)}/change/" in listing.content.decode()
    assert f"/{model}/{quote(theirs.pk)}/change/" not in listing.content.decode()
    theirs_url = f"{ADMIN}/{model}/{quote(theirs.pk)}"
    assert scoped.get(f"{theirs_url}/change/").status_code == 302
    assert scoped.get(f"{theirs_url}/history/").status_code == 302
    deleted = scoped.post(f"{theirs_url}/delete/", {"post": "yes"})
    assert deleted.status_code in (302, 403)
    assert type(theirs).objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize("model, action", [
    ("message", "cancel_messages"), ("dlqentry", "retry_selected"), ("queue", "pause"),
    ("flowcontrolkey", "pause"), ("signingkeypair", "rotate"), ("apitoken", "revoke"),
    ("schedule", "run_now"), ("schedule", "pause"), ("urlgroup", "delete_selected"),
    ("workflowrun", "cancel_selected"), ("workflowrun", "resume_selected"),
    ("workflowrun", "restart_selected"),
])
def test_every_admin_action_skips_other_tenants_rows(scoped, tenant, tenant_b, model, action):
    theirs = _rows(tenant_b)[model]
    before = {f: getattr(theirs, f) for f in ("status", "paused", "current", "revoked_at",
                                              "state") if hasattr(theirs, f)}
    messages_before = Message.objects.filter(tenant=tenant_b).count()
    scoped.post(f"{ADMIN}/{model}/", {"action": action, "_selected_action": [theirs.pk],
                                      "post": "yes", "confirm": "yes"})
    fresh = type(theirs).objects.filter(pk=theirs.pk).first()
    assert fresh is not None
    assert {f: getattr(fresh, f) for f in before} == before
    assert Message.objects.filter(tenant=tenant_b).count() == messages_before


def test_dlq_custom_views_refuse_other_tenants(scoped, tenant_b):
    entry = make_dlq(tenant_b)
    assert scoped.post(f"{ADMIN}/dlqentry/{entry.pk}/retry/").status_code == 404
    assert scoped.get(f"{ADMIN}/dlqentry/{entry.pk}/edit-retry/").status_code == 404
    assert DlqEntry.objects.filter(pk=entry.pk).exists()
    assert Message.objects.filter(tenant=tenant_b).count() == 1


def test_workflow_run_views_refuse_other_tenants(scoped, tenant_b):
    running, failed = make_run(tenant_b), make_run(tenant_b, failed=True)
    assert scoped.post(f"{ADMIN}/workflowrun/{running.pk}/cancel/").status_code == 404
    for action in ("resume", "restart"):
        assert scoped.post(f"{ADMIN}/workflowrun/{failed.pk}/{action}/").status_code == 404
    assert WorkflowRun.objects.get(pk=running.pk).state == "RUN_STARTED"
    assert WorkflowRun.objects.filter(tenant=tenant_b).count() == 2
    assert DlqEntry.objects.filter(dlq_id=failed.dlq_id).exists()


@pytest.mark.parametrize("model", ["queue", "urlgroup", "apitoken", "schedule"])
def test_add_forms_offer_only_own_tenants(scoped, tenant, tenant_b, model):
    page = scoped.get(f"{ADMIN}/{model}/add/").content.decode()
    assert f'<option value="{tenant.pk}"' in page
    assert f'<option value="{tenant_b.pk}"' not in page


def test_tenant_autocomplete_lists_only_own_tenants(scoped, tenant, tenant_b):
    for model in ("schedule", "queue", "urlgroup", "apitoken"):
        response = scoped.get("/admin/autocomplete/", {
            "app_label": "django_qstash", "model_name": model, "field_name": "tenant",
            "term": "ops"})
        names = {r["text"] for r in json.loads(response.content).get("results", [])} \
            if response.status_code == 200 else set()
        assert tenant_b.name not in names


def test_scoped_staff_cannot_create_or_rename_tenants(scoped, tenant):
    assert scoped.get(f"{ADMIN}/tenant/add/").status_code == 403
    # A renamed tenant would belong to whoever holds the group of the new name.
    scoped.post(f"{ADMIN}/tenant/{tenant.pk}/change/", {"name": "someone-else", "_save": "Save"})
    assert Tenant.objects.get(pk=tenant.pk).name == tenant.name
    assert not Tenant.objects.filter(name="intruder").exists()
    scoped.post(f"{ADMIN}/tenant/add/", {"name": "intruder", "_save": "Save"})
    assert not Tenant.objects.filter(name="intruder").exists()
