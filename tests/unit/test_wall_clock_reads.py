"""Every "now" in the package comes from the injected clock: no module but clock.py reads the wall clock."""

from __future__ import annotations

import ast
from pathlib import Path

import django_qstash

PACKAGE = Path(django_qstash.__file__).parent
# Where the wall clock may be read: the clock itself.
ALLOWED = {PACKAGE / "clock.py", PACKAGE / "core" / "clock.py"}
# name.attribute pairs that read the wall clock (called, or passed on to be called later,
# as in ``default=timezone.now``). time.monotonic and perf_counter measure durations only.
WALL_CLOCK = {
    ("time", "time"), ("time", "time_ns"), ("time", "ctime"),
    ("datetime", "now"), ("datetime", "utcnow"), ("datetime", "today"), ("date", "today"),
    ("timezone", "now"), ("timezone", "localdate"), ("timezone", "localtime"),
}
# Read the wall clock only when called without a moment.
WALL_CLOCK_WITHOUT_ARGUMENT = {("time", "localtime"), ("time", "gmtime")}
FROM_IMPORTS = {("time", "time"), ("time", "time_ns"), ("django.utils.timezone", "now")}


def _dotted_tail(node: ast.expr) -> str | None:
    """``datetime`` for ``datetime`` and for ``dt.datetime``: the last name before the attribute."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    return None


def wall_clock_reads(source: str) -> list[tuple[int, str]]:
    tree = ast.parse(source)
    calls_with_arguments = {id(node.func) for node in ast.walk(tree)
                            if isinstance(node, ast.Call) and (node.args or node.keywords)}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            pair = (_dotted_tail(node.value), node.attr)
            if pair in WALL_CLOCK or (pair in WALL_CLOCK_WITHOUT_ARGUMENT
                                      and id(node) not in calls_with_arguments):
                found.append((node.lineno, f"{pair[0]}.{pair[1]}"))
        elif isinstance(node, ast.ImportFrom) and node.module:
            for alias in node.names:
                if (node.module, alias.name) in FROM_IMPORTS:
                    found.append((node.lineno, f"from {node.module} import {alias.name}"))
    return sorted(found)


def test_the_scan_finds_each_kind_of_wall_clock_read():
    lines = ["import time, datetime as dt", "time.time()", "dt.datetime.now(dt.timezone.utc)",
             "timezone.now()", "f(default=timezone.now)", "from time import time",
             "time.gmtime()", "time.gmtime(0)", "time.monotonic()", "clock.now()"]
    source = "\n".join(lines)
    assert [line for line, _ in wall_clock_reads(source)] == [2, 3, 4, 5, 6, 7]


def test_no_module_reads_the_wall_clock_but_the_clock():
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{line}: {what}"
                 for path in sorted(PACKAGE.rglob("*.py"))
                 if path not in ALLOWED and "migrations" not in path.parts
                 for line, what in wall_clock_reads(path.read_text())]
    assert offenders == [], "read the time from django_qstash.core.clock instead:\n" + "\n".join(
        offenders)
