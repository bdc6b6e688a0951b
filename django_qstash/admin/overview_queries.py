"""The dashboard's figures: series from the rollups (plus what is not folded into them yet),
live backlogs, DLQ, destinations, schedules."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db.models import Count, Max, Min, Q, Sum

from django_qstash.engine.rollup_fold import unfolded
from django_qstash.models import (
    ActivityHour,
    ActivityMinute,
    DestinationHour,
    DlqEntry,
    FlowControlKey,
    Message,
    Queue,
    Schedule,
)
from django_qstash.models.rollup import (
    BUCKETS,
    COUNTERS,
    LATENCY_BOUNDS_MS,
    done_column,
    wait_column,
)


@dataclass(frozen=True)
class Window:
    name: str
    label: str
    span: timedelta
    step: timedelta


WINDOWS = {w.name: w for w in (
    Window("hour", "Last hour", timedelta(hours=1), timedelta(minutes=1)),
    Window("day", "Last day", timedelta(days=1), timedelta(minutes=15)),
    Window("week", "Last week", timedelta(days=7), timedelta(hours=1)),
)}
PERCENTILES = (0.5, 0.95, 0.99)
LIVE = [Message.Status.PENDING, Message.Status.ACTIVE]
TOP = 8


def window_bounds(window: Window, now: datetime) -> tuple[datetime, datetime]:
    """[start, end) made of whole steps, the step holding ``now`` last."""
    epoch = now.replace(hour=0, minute=0, second=0, microsecond=0)
    steps = (now - epoch) // window.step
    end = epoch + (steps + 1) * window.step
    return end - window.span, end


def scoped(queryset, tenant_ids: list[int] | None, path: str = "tenant_id"):
    return queryset if tenant_ids is None else queryset.filter(**{f"{path}__in": tenant_ids})


def percentile(counts: list[int], q: float) -> float | None:
    """The q-quantile (ms) of a histogram over LATENCY_BOUNDS_MS, linear within a bucket."""
    total = sum(counts)
    if not total:
        return None
    target, seen = q * total, 0
    for index, count in enumerate(counts):
        if count and seen + count >= target:
            lower = LATENCY_BOUNDS_MS[index - 1] if index else 0
            if index >= len(LATENCY_BOUNDS_MS):
                return float(lower)  # the open bucket: "at least this much"
            return lower + (LATENCY_BOUNDS_MS[index] - lower) * (target - seen) / count
        seen += count
    return float(LATENCY_BOUNDS_MS[-1])


@dataclass
class Activity:
    starts: list[datetime]
    counters: dict[str, list[int]]
    wait: list[list[int]]  # per step: the due -> first attempt histogram
    done: list[list[int]]  # per step: the publish -> delivered histogram
    dlq_removed: list[int] = field(default_factory=list)  # per step: entries taken out
    totals: dict[str, int] = field(default_factory=dict)

    def latency_series(self, kind: str) -> dict[str, list[float | None]]:
        histograms = self.wait if kind == "wait" else self.done
        return {f"p{round(q * 100)}": [percentile(h, q) for h in histograms]
                for q in PERCENTILES}

    def latency_totals(self, kind: str) -> dict[str, float | None]:
        histograms = self.wait if kind == "wait" else self.done
        summed = ([sum(column) for column in zip(*histograms, strict=True)] if histograms
                  else [0] * BUCKETS)
        return {f"p{round(q * 100)}": percentile(summed, q) for q in PERCENTILES}


def activity(tenant_ids: list[int] | None, window: Window, now: datetime,
             live: list[tuple[type, list]] | None = None) -> Activity:
    """Counters and histograms per step, from the rollups (one grouped query) plus ``live``:
    the rows of what is not folded into them yet (``unfolded``)."""
    start, end = window_bounds(window, now)
    steps = window.span // window.step
    waits, dones = ([wait_column(b) for b in range(BUCKETS)],
                    [done_column(b) for b in range(BUCKETS)])
    columns = [*COUNTERS, "dlq_removed", *waits, *dones]
    # Hourly steps read the hourly rollups: a week is then 168 periods, not 10,080.
    model, period = ((ActivityHour, "hour") if window.step >= timedelta(hours=1)
                     else (ActivityMinute, "minute"))
    rows = (scoped(model.objects, tenant_ids)
            .filter(**{f"{period}__gte": start, f"{period}__lt": end})
            .order_by().values(period).annotate(**{f"s_{c}": Sum(c) for c in columns}))
    rows = [*rows, *pending_rows(model, period, columns, start, end,
                                 unfolded(tenant_ids) if live is None else live)]
    result = Activity(starts=[start + i * window.step for i in range(steps)],
                      counters={c: [0] * steps for c in COUNTERS},
                      wait=[[0] * BUCKETS for _ in range(steps)],
                      done=[[0] * BUCKETS for _ in range(steps)], dlq_removed=[0] * steps)
    for row in rows:
        index = (row[period] - start) // window.step
        for counter in COUNTERS:
            result.counters[counter][index] += row[f"s_{counter}"] or 0
        result.dlq_removed[index] += row["s_dlq_removed"] or 0
        for bucket in range(BUCKETS):
            result.wait[index][bucket] += row[f"s_{waits[bucket]}"] or 0
            result.done[index][bucket] += row[f"s_{dones[bucket]}"] or 0
    result.totals = {c: sum(values) for c, values in result.counters.items()}
    return result


def pending_rows(model, period: str, columns: list[str], start: datetime, end: datetime,
                 live: list[tuple[type, list]]) -> list[dict]:
    """The unfolded rows of ``model`` in [start, end), shaped like the grouped query's."""
    return [{period: getattr(draft, period), **{f"s_{c}": getattr(draft, c) for c in columns}}
            for kind, drafts in live if kind is model for draft in drafts
            if start <= getattr(draft, period) < end]


def dlq(tenant_ids: list[int] | None, activity: Activity) -> dict:
    """Its size now, the newest entries, and its size at the end of each step of the window:
    the size now, less the entries added since (messages failed), plus those taken out since
    (deleted, retried or expired), all from the rollups."""
    entries = scoped(DlqEntry.objects, tenant_ids)
    size = entries.count()
    series, running = [], size
    for added, removed in zip(reversed(activity.counters["failed"]),
                              reversed(activity.dlq_removed), strict=True):
        series.append(max(running, 0))  # never below 0: history from before removals counted
        running += removed - added
    newest = (entries.select_related("tenant", "message").order_by("-id")
              .only("dlq_id", "created_at", "response_status", "error", "tenant__name",
                    "message__url", "message__topic_name")[:TOP])
    return {"size": size, "series": series[::-1], "newest": list(newest)}


def queue_lag(tenant_ids: list[int] | None) -> list[dict]:
    """Queues with undelivered messages, longest first, with their oldest one's age."""
    rows = list(scoped(Message.objects, tenant_ids).filter(status__in=LIVE).exclude(queue_name="")
                .order_by().values("tenant_id", "tenant__name", "queue_name")
                .annotate(lag=Count("pk"), oldest=Min("created_at")).order_by("-lag")[:TOP])
    paused = set(scoped(Queue.objects, tenant_ids).filter(paused=True)
                 .values_list("tenant_id", "name"))
    for row in rows:
        row["paused"] = (row["tenant_id"], row["queue_name"]) in paused
    return rows


def waitlists(tenant_ids: list[int] | None) -> list[dict]:
    """Flow-control keys with waiting or in-flight messages, longest wait list first."""
    rows = list(scoped(Message.objects, tenant_ids).filter(status__in=LIVE)
                .exclude(flow_control_key="").order_by()
                .values("tenant_id", "tenant__name", "flow_control_key")
                .annotate(waiting=Count("pk", filter=Q(status=Message.Status.PENDING)),
                          in_flight=Count("pk", filter=Q(status=Message.Status.ACTIVE)))
                .order_by("-waiting", "-in_flight")[:TOP])
    keys = scoped(FlowControlKey.objects, tenant_ids).filter(
        key__in=[r["flow_control_key"] for r in rows]).values_list(
        "tenant_id", "key", "parallelism_max", "rate_max", "paused")
    limits = {(t, k): (p, r, z) for t, k, p, r, z in keys}
    for row in rows:
        row["parallelism"], row["rate"], row["paused"] = limits.get(
            (row["tenant_id"], row["flow_control_key"]), (None, None, False))
    return rows


def destinations(tenant_ids: list[int] | None, window: Window, now: datetime,
                 live: list[tuple[type, list]] | None = None) -> dict:
    """Origins ranked by messages failed and by mean attempt time, over the window's hours
    (the rollups plus ``live``, the unfolded rows)."""
    first_hour = window_bounds(window, now)[0].replace(minute=0, second=0, microsecond=0)
    hours = scoped(DestinationHour.objects, tenant_ids).filter(hour__gte=first_hour)
    totals = (hours.order_by().values("origin")
              .annotate(failed=Sum("failed"), errors=Sum("errors"), attempts=Sum("attempts"),
                        duration=Sum("duration_ms"), last_at=Max("last_at")))
    by_origin = {row["origin"]: row for row in totals}
    latest: dict[str, tuple[datetime, int | None]] = {}
    for kind, drafts in unfolded(tenant_ids) if live is None else live:
        for draft in drafts if kind is DestinationHour else ():
            if draft.hour < first_hour:
                continue
            row = by_origin.setdefault(draft.origin, {
                "origin": draft.origin, "failed": 0, "errors": 0, "attempts": 0,
                "duration": 0, "last_at": None})
            row["failed"] += draft.failed
            row["errors"] += draft.errors
            row["attempts"] += draft.attempts
            row["duration"] += draft.duration_ms
            if draft.last_at is not None and (row["last_at"] is None
                                              or draft.last_at >= row["last_at"]):
                row["last_at"] = draft.last_at
                latest[draft.origin] = (draft.last_at, draft.last_status)
    rows = list(by_origin.values())
    for row in rows:
        row["mean_ms"] = row["duration"] / row["attempts"] if row["attempts"] else 0
    failing = sorted((r for r in rows if r["failed"] or r["errors"]),
                     key=lambda r: (-r["failed"], -r["errors"], r["origin"]))[:TOP]
    slowest = sorted((r for r in rows if r["attempts"]),
                     key=lambda r: (-r["mean_ms"], r["origin"]))[:TOP]
    shown = {r["origin"] for r in failing + slowest}
    last: dict[str, int | None] = {}
    for origin, status in (hours.filter(origin__in=shown, last_at__isnull=False)
                           .order_by("origin", "-last_at").values_list("origin", "last_status")):
        last.setdefault(origin, status)
    for origin, (_, status) in latest.items():
        last[origin] = status  # newer than anything folded
    for row in rows:
        row["last_status"] = last.get(row["origin"])
    return {"failing": failing, "slowest": slowest}


def schedules(tenant_ids: list[int] | None) -> list[dict]:
    """The next schedules to run, with the state of the messages their last run published."""
    upcoming = list(scoped(Schedule.objects, tenant_ids).filter(
        paused=False, next_schedule_time__isnull=False).select_related("tenant")
        .order_by("next_schedule_time")
        .only("schedule_id", "cron", "destination", "next_schedule_time", "last_schedule_time",
              "last_schedule_states", "last_error", "tenant__name")[:TOP])
    message_ids = [m for s in upcoming for m in list(s.last_schedule_states or {})[:5]]
    states = dict(Message.objects.filter(pk__in=message_ids).values_list("pk", "status"))
    return [{"schedule": s,
             "last_run": [(m, states.get(m, "purged"))
                          for m in list(s.last_schedule_states or {})[:5]]}
            for s in upcoming]
