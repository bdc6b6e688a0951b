"""Cron expressions: 5 fields, optional ``CRON_TZ=<zone>`` prefix, next fire times in UTC."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import croniter

UTC = timezone.utc
FIELDS = (
    ("minute", "0-59"),
    ("hour", "0-23"),
    ("day-of-month", "1-31"),
    ("month", "1-12 or JAN-DEC"),
    ("day-of-week", "0-7 or SUN-SAT"),
)
ZONE_PREFIXES = ("CRON_TZ=", "TZ=")
# Larger than any daylight-saving shift; bounds how far offsets around a transition are sampled.
MAX_SHIFT = timedelta(hours=3)
# A safety net against a zone database we do not understand; real searches take a handful.
MAX_STEPS = 10_000


class CronError(ValueError):
    """An invalid cron string; the message says what is wrong."""


@dataclass(frozen=True)
class CronSpec:
    expression: str  # the five fields, single-spaced
    zone: ZoneInfo | None  # None means UTC
    # Hour field "*": such jobs follow elapsed time and fire in both passes of a repeated hour,
    # as Vixie cron runs its "wildcard" jobs; jobs with fixed hours fire only in the first pass.
    every_hour: bool

    @property
    def zone_name(self) -> str:
        return self.zone.key if self.zone is not None else "UTC"


@lru_cache(maxsize=4096)
def parse(cron: str) -> CronSpec:
    """Validate ``cron`` (``[CRON_TZ=<IANA zone> ]m h dom mon dow``) or raise CronError."""
    text = (cron or "").strip()
    if not text:
        raise CronError("cron expression is empty")
    zone = None
    head, _, rest = text.partition(" ")
    for prefix in ZONE_PREFIXES:
        if head.upper().startswith(prefix):
            zone = _zone(head[len(prefix):])
            text = rest.strip()
            break
    fields = text.split()
    if len(fields) != 5:
        hint = " (macros such as @daily are not supported)" if text.startswith("@") else ""
        raise CronError(f"cron expression must have 5 fields (minute hour day-of-month month "
                        f"day-of-week), got {len(fields)}{hint}")
    for index, value in enumerate(fields):
        probe = ["*"] * 5
        probe[index] = value
        if not croniter.is_valid(" ".join(probe)):
            name, allowed = FIELDS[index]
            raise CronError(f"invalid {name} field {value!r} (allowed: {allowed}, '*', lists, "
                            f"ranges and steps)")
    expression = " ".join(fields)
    if not croniter.is_valid(expression):
        raise CronError(f"invalid cron expression {expression!r}")
    try:
        croniter(expression, datetime(2000, 1, 1)).get_next(datetime)
    except Exception:  # croniter gives up when no date matches, e.g. "0 0 30 2 *"
        raise CronError(f"cron expression {expression!r} never fires") from None
    if zone is not None and zone.key in ("UTC", "Etc/UTC", "Etc/UCT", "UCT", "Zulu"):
        zone = None
    return CronSpec(expression, zone, fields[1] in ("*", "*/1"))


def _zone(name: str) -> ZoneInfo:
    if not name:
        raise CronError("CRON_TZ needs a time zone name, e.g. CRON_TZ=Europe/Berlin")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise CronError(f"unknown time zone {name!r} in CRON_TZ (use an IANA name such as "
                        f"Europe/Berlin)") from None


def split_zone(cron: str) -> tuple[str, str]:
    """``"CRON_TZ=Europe/Berlin 0 9 * * *"`` -> ``("Europe/Berlin", "0 9 * * *")``; UTC: ``""``."""
    spec = parse(cron)
    return (spec.zone.key if spec.zone is not None else "", spec.expression)


def join_zone(zone_name: str, expression: str) -> str:
    expression = " ".join(expression.split())
    return f"CRON_TZ={zone_name} {expression}" if zone_name else expression


def next_fire(cron: str | CronSpec, after: datetime) -> datetime:
    """The first fire time strictly after ``after``, in UTC.

    Daylight saving works like cron: a local time skipped in spring fires once, when the gap
    ends; a local time repeated in autumn fires once (jobs with hour field ``*`` keep firing by
    elapsed time through the repeated hour).
    """
    spec = parse(cron) if isinstance(cron, str) else cron
    after = after.replace(tzinfo=UTC) if after.tzinfo is None else after.astimezone(UTC)
    if spec.zone is None:
        naive = croniter(spec.expression, after.replace(tzinfo=None)).get_next(datetime)
        return naive.replace(tzinfo=UTC)
    zone = spec.zone
    local = after.astimezone(zone)
    candidate = croniter(spec.expression, local.replace(tzinfo=None)).get_next(datetime)
    first, second = _both_folds(candidate, zone)
    # Fast path: an unambiguous wall time and no offset change in between, so nothing in
    # between can match (the naive search above saw every wall time of that stretch).
    unchanged = first.astimezone(zone).utcoffset() == local.utcoffset()
    if first == second and first > after and unchanged:
        return first
    offsets = {_offset(zone, moment) for moment in (
        after, after + MAX_SHIFT, first, second, first - MAX_SHIFT, first + MAX_SHIFT)}
    return _search(spec, after, offsets)


def upcoming(cron: str | CronSpec, after: datetime, n: int) -> list[datetime]:
    spec = parse(cron) if isinstance(cron, str) else cron
    times: list[datetime] = []
    for _ in range(n):
        after = next_fire(spec, after)
        times.append(after)
    return times


def _offset(zone: ZoneInfo, moment: datetime) -> timedelta:
    return moment.astimezone(zone).utcoffset() or timedelta(0)


def _both_folds(naive: datetime, zone: ZoneInfo) -> tuple[datetime, datetime]:
    return (naive.replace(tzinfo=zone, fold=0).astimezone(UTC),
            naive.replace(tzinfo=zone, fold=1).astimezone(UTC))


def _search(spec: CronSpec, after: datetime, offsets: set[timedelta]) -> datetime:
    """Merge one fixed-offset cron sequence per offset the zone uses around ``after``.

    An instant fires when the offset assumed for it is the zone's real offset there (and it
    is not the second pass of a repeated fixed-hour time); a wall time the zone skips yields
    the instant its gap ends.
    """
    zone = spec.zone
    assert zone is not None
    heap: list[tuple[datetime, int, timedelta, croniter | None]] = []
    for index, offset in enumerate(sorted(offsets)):
        it = croniter(spec.expression, (after + offset).replace(tzinfo=None))
        heap.append((it.get_next(datetime).replace(tzinfo=UTC) - offset, index, offset, it))
    heapq.heapify(heap)
    tiebreak = len(heap)  # keeps heap entries comparable without comparing iterators
    for _ in range(MAX_STEPS):
        moment, _index, offset, it = heapq.heappop(heap)
        if it is None:  # a gap's end, already checked
            return moment
        local = moment.astimezone(zone)
        if local.utcoffset() == offset:
            if moment > after and (spec.every_hour or not _is_second_pass(local, zone)):
                return moment
        else:
            wall = (moment + offset).replace(tzinfo=None)
            gap_end = _gap_end(wall, zone)
            if gap_end is not None and gap_end > after:
                tiebreak += 1
                heapq.heappush(heap, (gap_end, tiebreak, offset, None))
        tiebreak += 1
        nxt = it.get_next(datetime).replace(tzinfo=UTC) - offset
        heapq.heappush(heap, (nxt, tiebreak, offset, it))
    raise CronError(f"could not compute the next fire time of {spec.expression!r}")


def _is_second_pass(local: datetime, zone: ZoneInfo) -> bool:
    if not local.fold:
        return False
    first, second = _both_folds(local.replace(tzinfo=None), zone)
    return first != second


def _gap_end(wall: datetime, zone: ZoneInfo) -> datetime | None:
    """When ``wall`` is a local time the zone skips, the instant the skip ends; else None."""
    first, second = _both_folds(wall, zone)
    if first == second or first.astimezone(zone).replace(tzinfo=None) == wall:
        return None
    lo, hi = int(min(first, second).timestamp()), int(max(first, second).timestamp())
    after_offset = _offset(zone, max(first, second))
    while hi - lo > 1:  # the transition lies in between; find its second
        mid = (lo + hi) // 2
        if _offset(zone, datetime.fromtimestamp(mid, UTC)) == after_offset:
            hi = mid
        else:
            lo = mid
    return datetime.fromtimestamp(hi, UTC)
