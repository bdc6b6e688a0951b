"""Server-drawn SVG line charts in the admin's colours: no script, no build step, works offline."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime

from django.utils.html import escape, format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

WIDTH, HEIGHT = 640, 180
LEFT, RIGHT, TOP, BOTTOM = 52, 10, 10, 24  # room for the axis labels
X_TICKS = 6


def nice_ceiling(value: float) -> float:
    """1, 2 or 5 times a power of ten, at least ``value``: round gridlines."""
    if value <= 0:
        return 1
    power = 10 ** math.floor(math.log10(value))
    return next(m * power for m in (1, 2, 5, 10) if m * power >= value)


def short_number(value: float) -> str:
    for limit, suffix in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if abs(value) >= limit:
            return f"{value / limit:.3g}{suffix}"
    return f"{value:.3g}" if value % 1 else str(int(value))


def duration_label(ms: float | None) -> str:
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{ms:.0f} ms"
    if ms < 60_000:
        return f"{ms / 1000:.3g} s"
    if ms < 3_600_000:
        return f"{ms / 60_000:.3g} min"
    return f"{ms / 3_600_000:.3g} h"


def _time_label(moment: datetime, span_days: float) -> str:
    return moment.strftime("%a %d" if span_days > 2 else "%H:%M")


def line_chart(starts: Sequence[datetime], series: Sequence[tuple[str, Sequence, str]], *,
               title: str, log: bool = False, durations: bool = False) -> SafeString:
    """``series``: (label, values, css class); a None value breaks its line. ``log`` draws
    values from 1 up on a log scale (latencies span milliseconds to hours)."""
    values = [v for _, points, _ in series for v in points if v is not None]
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    steps = max(len(starts), 1)
    if log:
        top = nice_ceiling(max(values, default=1000))
        top = 10 ** math.ceil(math.log10(max(top, 10)))
        ticks = [10 ** e for e in range(int(math.log10(top)) + 1)]

        def y(v: float) -> float:
            return TOP + plot_h * (1 - math.log10(max(v, 1)) / math.log10(top))
    else:
        step = nice_ceiling((max(values, default=0) or 1) / 4)  # round steps, not a round top
        top = step * 4
        ticks = [step * i for i in range(5)]

        def y(v: float) -> float:
            return TOP + plot_h * (1 - v / top)

    def x(index: float) -> float:
        return LEFT + plot_w * (index + 0.5) / steps

    label = duration_label if durations else short_number
    parts = [f'<line class="qs-gridline" x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y(t):.1f}" '
             f'y2="{y(t):.1f}"/><text class="qs-axis" x="{LEFT - 6}" y="{y(t) + 4:.1f}" '
             f'text-anchor="end">{escape(label(t))}</text>' for t in ticks]
    span_days = (starts[-1] - starts[0]).total_seconds() / 86400 if len(starts) > 1 else 0
    every = max(1, steps // X_TICKS)
    parts += [f'<text class="qs-axis" x="{x(i):.1f}" y="{HEIGHT - 6}" text-anchor="middle">'
              f'{escape(_time_label(starts[i], span_days))}</text>'
              for i in range(0, min(steps, len(starts)), every)]
    for name, points, css in series:
        for run in _runs(points):
            if len(run) == 1:
                i, v = run[0]
                parts.append(f'<circle class="qs-dot {escape(css)}" cx="{x(i):.1f}" '
                             f'cy="{y(v):.1f}" r="2.5"><title>{escape(name)}</title></circle>')
            else:
                path = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in run)
                parts.append(f'<polyline class="qs-line {escape(css)}" points="{path}">'
                             f'<title>{escape(name)}</title></polyline>')
    legend = format_html_join("", '<span class="qs-key"><i class="{}"></i>{}</span>',
                              ((css, name) for name, _, css in series))
    return format_html('<figure class="qs-chart"><figcaption>{}<span class="qs-legend">{}'
                       '</span></figcaption><svg viewBox="0 0 {} {}" role="img" '
                       'aria-label="{}">{}</svg></figure>',
                       title, legend, WIDTH, HEIGHT, title, mark_safe("".join(parts)))


def _runs(points: Sequence) -> list[list[tuple[int, float]]]:
    runs, current = [], []
    for index, value in enumerate(points):
        if value is None:
            if current:
                runs.append(current)
            current = []
        else:
            current.append((index, value))
    if current:
        runs.append(current)
    return runs
