"""Cron parsing and next fire times, including daylight-saving transitions, as tables."""

from __future__ import annotations

import random
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from croniter import croniter

from django_qstash.core.cron import CronError, join_zone, next_fire, parse, split_zone, upcoming

UTC = timezone.utc


def runs(cron: str, after: str, n: int) -> list[str]:
    """Next ``n`` runs after the aware ISO time ``after``, as ISO strings in the cron's zone."""
    spec = parse(cron)
    zone = spec.zone or UTC
    times = upcoming(cron, datetime.fromisoformat(after), n)
    return [t.astimezone(zone).isoformat() for t in times]


@pytest.mark.parametrize("cron, after, expected", [
    ("* * * * *", "2026-01-01T00:00:00+00:00", ["2026-01-01T00:01:00+00:00"]),
    ("* * * * *", "2026-01-01T00:00:59.999+00:00", ["2026-01-01T00:01:00+00:00"]),
    ("*/15 * * * *", "2026-01-01T00:15:00+00:00", ["2026-01-01T00:30:00+00:00"]),
    ("0 9 * * 1-5", "2026-01-02T10:00:00+00:00", ["2026-01-05T09:00:00+00:00"]),
    ("0 0 29 2 *", "2026-01-01T00:00:00+00:00", ["2028-02-29T00:00:00+00:00"]),
    ("  */10 * * * *  ", "2026-01-01T00:00:00+00:00", ["2026-01-01T00:10:00+00:00"]),
    ("CRON_TZ=UTC 0 12 * * *", "2026-01-01T12:00:00+00:00", ["2026-01-02T12:00:00+00:00"]),
    ("CRON_TZ=Asia/Tokyo 0 9 * * *", "2025-12-31T23:00:00+00:00", ["2026-01-01T09:00:00+09:00"]),
])
def test_next_fire_basics(cron, after, expected):
    assert runs(cron, after, len(expected)) == expected


@pytest.mark.parametrize("cron, after, expected", [
    # Spring, Europe/Berlin: 02:00 CET jumps to 03:00 CEST on 2026-03-29.
    ("CRON_TZ=Europe/Berlin 30 2 * * *", "2026-03-28T12:00:00+01:00",
     ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),  # skipped time fires once
    ("CRON_TZ=Europe/Berlin 0 2,3 * * *", "2026-03-28T12:00:00+01:00",
     ["2026-03-29T03:00:00+02:00", "2026-03-30T02:00:00+02:00"]),  # 02:00 and 03:00 collapse
    ("CRON_TZ=Europe/Berlin */20 * * * *", "2026-03-29T01:30:00+01:00",
     ["2026-03-29T01:40:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:20:00+02:00"]),
    ("CRON_TZ=Europe/Berlin 0 9 * * *", "2026-03-28T12:00:00+01:00",
     ["2026-03-29T09:00:00+02:00", "2026-03-30T09:00:00+02:00"]),
    # Autumn, Europe/Berlin: 03:00 CEST falls back to 02:00 CET on 2026-10-25.
    ("CRON_TZ=Europe/Berlin 30 2 * * *", "2026-10-24T12:00:00+02:00",
     ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),  # repeated time fires once
    ("CRON_TZ=Europe/Berlin */20 2 * * *", "2026-10-25T01:00:00+02:00",
     ["2026-10-25T02:00:00+02:00", "2026-10-25T02:20:00+02:00", "2026-10-25T02:40:00+02:00",
      "2026-10-26T02:00:00+01:00"]),
    # Hour field "*": elapsed time keeps going through the repeated hour, like cron.
    ("CRON_TZ=Europe/Berlin 30 * * * *", "2026-10-25T01:45:00+02:00",
     ["2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"]),
    ("CRON_TZ=Europe/Berlin 15 * * * *", "2026-10-25T02:30:00+02:00",
     ["2026-10-25T02:15:00+01:00", "2026-10-25T03:15:00+01:00"]),
    ("CRON_TZ=Europe/Berlin 0 9 * * *", "2026-10-24T12:00:00+02:00",
     ["2026-10-25T09:00:00+01:00"]),
    # Spring, America/New_York: 02:00 EST jumps to 03:00 EDT on 2026-03-08.
    ("CRON_TZ=America/New_York 30 2 * * *", "2026-03-07T12:00:00-05:00",
     ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    ("CRON_TZ=America/New_York */30 * * * *", "2026-03-08T01:15:00-05:00",
     ["2026-03-08T01:30:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T03:30:00-04:00"]),
    # Autumn, America/New_York: 02:00 EDT falls back to 01:00 EST on 2026-11-01.
    ("CRON_TZ=America/New_York 30 1 * * *", "2026-10-31T12:00:00-04:00",
     ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]),
    ("CRON_TZ=America/New_York 30 1 * * *", "2026-11-01T01:40:00-04:00",
     ["2026-11-02T01:30:00-05:00"]),  # inside the repeated hour, after its first pass
    ("CRON_TZ=America/New_York 0 * * * *", "2026-11-01T00:30:00-04:00",
     ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
    ("CRON_TZ=America/New_York 0 0 1 1 *", "2026-03-07T12:00:00-05:00",
     ["2027-01-01T00:00:00-05:00"]),
])
def test_daylight_saving_transitions(cron, after, expected):
    assert runs(cron, after, len(expected)) == expected


def _reference(cron: str, after: datetime) -> datetime:
    """Minute-by-minute: what a cron daemon watching the wall clock would do."""
    spec = parse(cron)
    zone = spec.zone
    moment = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    previous = moment - timedelta(minutes=1)
    while True:
        local, before = moment.astimezone(zone), previous.astimezone(zone)
        wall = local.replace(tzinfo=None)
        if local.utcoffset() > before.utcoffset():  # wall times skipped since the last minute
            skipped = before.replace(tzinfo=None) + timedelta(minutes=1)
            while skipped < wall:
                if croniter.match(spec.expression, skipped):
                    return moment
                skipped += timedelta(minutes=1)
        if croniter.match(spec.expression, wall):
            repeated = local.fold == 1 and (wall.replace(tzinfo=zone, fold=0).utcoffset()
                                            != wall.replace(tzinfo=zone, fold=1).utcoffset())
            if spec.every_hour or not repeated:
                return moment
        previous, moment = moment, moment + timedelta(minutes=1)


@pytest.mark.parametrize("zone", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
def test_matches_a_minute_by_minute_reference_around_transitions(zone):
    rng = random.Random(zone)
    zoneinfo = ZoneInfo(zone)
    moment, transitions = datetime(2026, 1, 1, tzinfo=UTC), []
    while moment.year < 2027:
        if (moment + timedelta(hours=1)).astimezone(zoneinfo).utcoffset() != \
                moment.astimezone(zoneinfo).utcoffset():
            transitions.append(moment)
        moment += timedelta(hours=1)
    assert len(transitions) == 2
    for transition in transitions:
        for expression in ("*/7 * * * *", "30 2 * * *", "15 * * * *", "*/20 2 * * *", "0 3 * * *"):
            cron = f"CRON_TZ={zone} {expression}"
            for _ in range(8):
                after = transition + timedelta(seconds=rng.randint(-3 * 3600, 3 * 3600))
                assert next_fire(cron, after) == _reference(cron, after), (cron, after)


@pytest.mark.parametrize("cron, message", [
    ("", "empty"),
    ("* * * *", "5 fields"),
    ("* * * * * *", "got 6"),
    ("@daily", "macros"),
    ("61 * * * *", "minute field '61'"),
    ("* 24 * * *", "hour field '24'"),
    ("* * 0 * *", "day-of-month field '0'"),
    ("* * * 13 *", "month field '13'"),
    ("* * * * 8", "day-of-week field '8'"),
    ("*/0 * * * *", "minute field"),
    ("0 0 30 2 *", "never fires"),
    ("CRON_TZ=Mars/Olympus * * * * *", "unknown time zone 'Mars/Olympus'"),
    ("CRON_TZ=../../etc/passwd * * * * *", "unknown time zone"),
    ("CRON_TZ= * * * * *", "needs a time zone"),
    ("CRON_TZ=Europe/Berlin", "got 0"),
])
def test_invalid_cron_says_what_is_wrong(cron, message):
    with pytest.raises(CronError) as caught:
        parse(cron)
    assert message in str(caught.value)


def test_zone_helpers_round_trip():
    assert split_zone("CRON_TZ=Europe/Berlin  0 9 * * *") == ("Europe/Berlin", "0 9 * * *")
    assert split_zone("0 9 * * *") == ("", "0 9 * * *")
    assert join_zone("Europe/Berlin", " 0  9 * * * ") == "CRON_TZ=Europe/Berlin 0 9 * * *"
    assert join_zone("", "0 9 * * *") == "0 9 * * *"


def test_naive_after_is_taken_as_utc():
    assert next_fire("0 * * * *", datetime(2026, 1, 1, 10, 30)) == datetime(
        2026, 1, 1, 11, tzinfo=UTC)
