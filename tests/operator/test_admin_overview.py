"""The QStash overview: figures match known traffic, and staff see their tenants' only."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import transaction

from django_qstash.core.attempts import DeliveryOutcome
from django_qstash.core.clock import FrozenClock, SystemClock, set_clock
from django_qstash.engine.cancellation import cancel
from django_qstash.engine.lifecycle import record_outcome, record_outcomes
from django_qstash.engine.publishing import prepare, publish_specs
from django_qstash.engine.rollup_fold import SAFETY_MARGIN, fold, unfolded
from django_qstash.engine.tenants import create_tenant
from django_qstash.engine.transitions import claim
from django_qstash.models import ActivityMinute, DlqEntry, Message
from django_qstash.models.rollup import LATENCY_BOUNDS_MS

pytestmark = pytest.mark.django_db(transaction=True)
OVERVIEW = "/admin/django_qstash/overview/"
START = datetime(2026, 3, 2, 10, 0, 30, tzinfo=timezone.utc)
DELAY = 30  # seconds between publish and due
WAIT_MS, DURATION_MS = 2_000, 100  # due -> attempt start, and the attempt itself


@pytest.fixture
def frozen():
    clock = FrozenClock(START)
    set_clock(clock)
    yield clock
    set_clock(SystemClock())


def publish(tenant, url: str, count: int, retries: int = 0) -> list[str]:
    specs = [prepare(tenant, url, b"{}", [("Upstash-Delay", f"{DELAY}s"),
                                         ("Upstash-Retries", str(retries))])
             for _ in range(count)]
    return [published.message_id for published in publish_specs(tenant, specs)]


def claimed(message_ids: list[str], now) -> list[Message]:
    with transaction.atomic():
        claim(list(Message.objects.select_for_update().filter(pk__in=message_ids)), now)
    return list(Message.objects.filter(pk__in=message_ids))


def outcome(status: int) -> DeliveryOutcome:
    return DeliveryOutcome(status=status, headers={}, body=b"",
                           error="" if status < 300 else f"destination answered {status}",
                           duration_ms=DURATION_MS)


def traffic(tenant, host: str, delivered: int, failed: int, retried: int, canceled: int):
    """Publish, then deliver, fail (to the DLQ), retry and cancel the given numbers."""
    ok = publish(tenant, f"https://{host}/ok", delivered)
    bad = publish(tenant, f"https://{host}/bad", failed)
    again = publish(tenant, f"https://{host}/again", retried, retries=3)
    dropped = publish(tenant, f"https://{host}/drop", canceled)
    cancel(Message.objects.filter(pk__in=dropped))
    due = START + timedelta(seconds=DELAY)
    started = due + timedelta(milliseconds=WAIT_MS)
    record_outcomes([(m, outcome(200), started) for m in claimed(ok, due)])
    for message in claimed(bad + again, due):
        record_outcome(message.id, message.claim_token, outcome(500), started)


def fold_all(clock) -> None:
    fold()
    clock.advance(seconds=SAFETY_MARGIN.total_seconds())
    while fold():
        pass


# Every figure is checked with the traffic still unfolded (read live from the events),
# folded into the rollups, and half of each.
@pytest.fixture(params=["live", "folded", "mixed"])
def two_tenants_traffic(request, frozen):
    ours, theirs = create_tenant("ours"), create_tenant("theirs")
    if request.param == "mixed":
        traffic(ours, "a.example.com", delivered=6, failed=2, retried=1, canceled=1)
        fold_all(frozen)
        traffic(theirs, "b.example.com", delivered=3, failed=4, retried=0, canceled=2)
    else:
        traffic(ours, "a.example.com", delivered=6, failed=2, retried=1, canceled=1)
        traffic(theirs, "b.example.com", delivered=3, failed=4, retried=0, canceled=2)
        if request.param == "folded":
            fold_all(frozen)
            assert not any(rows for _, rows in unfolded())
    frozen.advance(seconds=DELAY + 5)
    return ours, theirs


def totals(response) -> dict[str, int]:
    return {key: value for _, value, key in response.context["totals"]}


def bucket_of(ms: float) -> tuple[float, float]:
    upper = next(b for b in LATENCY_BOUNDS_MS if b >= ms)
    lower = max([0, *(b for b in LATENCY_BOUNDS_MS if b < ms)])
    return lower, upper


def test_figures_match_the_traffic(admin_client, two_tenants_traffic):
    response = admin_client.get(OVERVIEW, {"range": "hour"})
    assert response.status_code == 200
    assert totals(response) == {"published": 19, "delivered": 9, "retried": 1, "failed": 6,
                                "canceled": 3}
    assert response.context["dlq"]["size"] == 6 == DlqEntry.objects.count()
    assert response.context["dlq"]["series"][-1] == 6
    activity = response.context["activity"]
    assert sum(activity.counters["published"]) == 19
    # Latency percentiles come from histogram buckets: they land in the true value's bucket.
    wait = activity.latency_totals("wait")
    low, high = bucket_of(WAIT_MS)
    assert all(low <= wait[p] <= high for p in ("p50", "p95", "p99"))
    done = activity.latency_totals("done")
    low, high = bucket_of(DELAY * 1000 + WAIT_MS + DURATION_MS)
    assert all(low <= done[p] <= high for p in ("p50", "p95", "p99"))
    failing = {row["origin"]: row for row in response.context["destinations"]["failing"]}
    assert failing["https://b.example.com"]["failed"] == 4
    assert failing["https://a.example.com"]["failed"] == 2
    assert failing["https://a.example.com"]["errors"] == 3  # two failures and one retry
    assert failing["https://a.example.com"]["last_status"] == 500
    assert list(failing)[0] == "https://b.example.com"  # most failures first
    page = response.content.decode()
    assert "?destination=https%3A%2F%2Fb.example.com&amp;status__exact=failed" in page
    assert "<svg" in page and "QStash server administration" in page


def test_one_tenant_picked(admin_client, two_tenants_traffic):
    _, theirs = two_tenants_traffic
    response = admin_client.get(OVERVIEW, {"range": "day", "tenant": theirs.pk})
    assert totals(response) == {"published": 9, "delivered": 3, "retried": 0, "failed": 4,
                                "canceled": 2}
    assert response.context["dlq"]["size"] == 4


def test_staff_of_one_tenant_see_none_of_the_others_figures(client, two_tenants_traffic):
    ours, theirs = two_tenants_traffic
    user = User.objects.create_user("scoped", password="pw", is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(content_type__app_label="django_qstash"))
    user.groups.add(Group.objects.create(name=f"qstash-tenant:{ours.name}"))
    client.force_login(user)
    response = client.get(OVERVIEW, {"range": "week"})
    assert totals(response) == {"published": 10, "delivered": 6, "retried": 1, "failed": 2,
                                "canceled": 1}
    assert response.context["dlq"]["size"] == 2
    page = response.content.decode()
    assert "b.example.com" not in page and theirs.name not in page
    assert client.get(OVERVIEW, {"tenant": theirs.pk}).status_code == 400
    assert client.get("/admin/").content.decode().count("QStash overview") >= 1


def test_bad_input_is_a_4xx(admin_client, frozen):
    assert admin_client.get(OVERVIEW, {"range": "year"}).status_code == 400
    assert admin_client.get(OVERVIEW, {"tenant": "x"}).status_code == 400
    assert admin_client.get(OVERVIEW, {"tenant": "999999"}).status_code == 400


def test_a_rolled_back_outcome_counts_nothing(frozen):
    tenant = create_tenant("rollback")
    [message_id] = publish(tenant, "https://a.example.com/ok", 1)
    with pytest.raises(RuntimeError), transaction.atomic():
        [message] = claimed([message_id], START + timedelta(seconds=DELAY))
        record_outcome(message.id, message.claim_token, outcome(200), START)
        raise RuntimeError("the outcome's transaction fails")
    fold_all(frozen)
    counts = ActivityMinute.objects.values_list("published", "delivered")
    assert [sum(column) for column in zip(*counts, strict=True)] == [1, 0]


def test_the_same_traffic_reads_the_same_folded_or_not(admin_client, frozen):
    tenant = create_tenant("same")
    traffic(tenant, "c.example.com", delivered=4, failed=1, retried=2, canceled=1)
    frozen.advance(seconds=DELAY + 5)

    def figures(window):
        context = admin_client.get(OVERVIEW, {"range": window}).context
        activity = context["activity"]
        return (activity.counters, activity.wait, activity.done,
                context["destinations"]["failing"], context["destinations"]["slowest"])
    live = {window: figures(window) for window in ("hour", "day", "week")}
    fold_all(frozen)
    frozen.advance(seconds=-SAFETY_MARGIN.total_seconds())  # the same windows as before
    assert ActivityMinute.objects.exists() and not any(rows for _, rows in unfolded())
    assert {window: figures(window) for window in ("hour", "day", "week")} == live


def test_users_without_message_access_do_not_see_it(client, two_tenants_traffic):
    user = User.objects.create_user("plain", password="pw", is_staff=True)
    client.force_login(user)
    assert client.get(OVERVIEW).status_code == 403


@pytest.mark.parametrize("folded", [False, True])
def test_the_dlq_line_is_its_size_at_each_minute(admin_client, frozen, folded):
    """Entries added (failed) and taken out (deleted in the admin, deleted in bulk, retried,
    expired) each move the line at their minute; another tenant's never move ours."""
    from django_qstash.core.request_headers import PublishOptions
    from django_qstash.engine.dlq_operations import delete_matching
    from django_qstash.engine.dlq_retry import retry_entries
    from django_qstash.engine.retention import purge_batch

    ours, theirs = create_tenant("ours"), create_tenant("theirs")
    traffic(ours, "a.example.com", delivered=0, failed=4, retried=0, canceled=0)  # 10:00
    traffic(theirs, "b.example.com", delivered=0, failed=2, retried=0, canceled=0)

    def entries():
        return DlqEntry.objects.filter(tenant=ours).order_by("pk")

    def later(minutes: int) -> None:
        frozen.advance(seconds=60 * minutes)
        if folded:
            while fold():
                pass
    later(2)  # 10:02: one deleted from its admin page
    response = admin_client.post(
        f"/admin/django_qstash/dlqentry/{entries()[0].pk}/delete/", {"post": "yes"})
    assert response.status_code == 302 and entries().count() == 3
    delete_matching(DlqEntry.objects.filter(tenant=theirs))  # theirs: not on our line
    later(2)  # 10:04: one retried
    # Due in an hour: not sent (and failed again) while the test runs.
    retry_entries([entries().select_related("message")[0]], PublishOptions(delay_seconds=3600))
    assert entries().count() == 2
    later(2)  # 10:06: two more fail
    traffic(ours, "a.example.com", delivered=0, failed=2, retried=0, canceled=0)
    assert entries().count() == 4
    later(2)  # 10:08: one deleted in bulk, the oldest left expires
    delete_matching(DlqEntry.objects.filter(pk=entries().last().pk))
    assert entries().count() == 3
    assert purge_batch("dlq", frozen.now() - timedelta(minutes=5), 1) == (1, True)
    assert entries().count() == 2
    later(1)
    response = admin_client.get(OVERVIEW, {"range": "hour", "tenant": ours.pk})
    dlq = response.context["dlq"]
    assert dlq["size"] == 2 == DlqEntry.objects.filter(tenant=ours).count()
    starts = response.context["activity"].starts
    by_minute = {start.strftime("%H:%M"): size for start, size in zip(
        starts, dlq["series"], strict=True) if start >= START.replace(second=0)}
    assert by_minute == {"10:00": 4, "10:01": 4, "10:02": 3, "10:03": 3, "10:04": 2,
                         "10:05": 2, "10:06": 4, "10:07": 4, "10:08": 2, "10:09": 2}
    assert set(dlq["series"][:starts.index(START.replace(second=0))]) == {0}
    everyone = admin_client.get(OVERVIEW, {"range": "hour"}).context["dlq"]["series"]
    assert everyone[-1] == 2 and max(everyone) == 6  # theirs: 2 from 10:00 to 10:02
