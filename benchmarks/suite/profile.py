"""Where the time goes: py-spy samples of the server's processes, summarised as markdown."""

from __future__ import annotations

import re
import shutil
import subprocess
from collections import Counter
from pathlib import Path

from .common import PYTHON, WORK

PY_SPY = shutil.which("py-spy") or str(Path(PYTHON).parent / "py-spy")
_LINE = re.compile(r":\d+\)$")


def start_recording(targets: dict[str, int], seconds: float, rate: int = 100) -> dict:
    """Start py-spy on each {label: pid} (with its subprocesses); returns handles for ``finish``."""
    handles = {}
    for label, pid in targets.items():
        out = WORK / f"pyspy-{label.replace(' ', '_')}-{pid}.txt"
        argv = [PY_SPY, "record", "-p", str(pid), "-d", str(int(seconds)), "-r", str(rate),
                "--nonblocking", "--gil", "--subprocesses", "--full-filenames", "--format", "raw",
                "-o", str(out)]
        handles[label] = (subprocess.Popen(argv, stdout=subprocess.DEVNULL,
                                           stderr=subprocess.DEVNULL), out)
    return handles


def finish(handles: dict, top: int = 8) -> str:
    sections = []
    for label, (process, out) in handles.items():
        try:
            process.wait(60)
        except subprocess.TimeoutExpired:
            process.kill()
        if not out.exists():
            sections.append(f"**{label}**: py-spy produced no samples")
            continue
        sections.append(summarise(label, out.read_text(), top))
    return "\n\n".join(sections)


def _frame_name(frame: str) -> str:
    return _LINE.sub(")", frame.strip())


def _module(frame: str) -> str:
    """The package (or stdlib module) a frame's file belongs to."""
    match = re.search(r"\((.*?)(?::\d+)?\)$", frame)
    path = match.group(1) if match else frame
    if "site-packages/" in path:
        return path.split("site-packages/", 1)[1].split("/", 1)[0].removesuffix(".py")
    if "/django_qstash/" in path:
        return "django_qstash/" + path.split("/django_qstash/", 1)[1].removesuffix(".py")
    if "/lib/python3" in path:
        return "stdlib " + path.rsplit("/", 1)[-1].removesuffix(".py")
    return path.rsplit("/", 1)[-1]


def summarise(label: str, raw: str, top: int) -> str:
    leaf, packages, ours = Counter(), Counter(), Counter()
    total = 0
    for line in raw.splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue
        frames = [f for f in stack.split(";") if f and not f.startswith("process ")]
        if not frames:
            continue
        n = int(count)
        total += n
        leaf[_frame_name(frames[-1])] += n
        packages[_module(frames[-1])] += n
        for name in {_frame_name(f) for f in frames if "/django_qstash/" in f}:
            ours[name] += n
    if not total:
        return f"**{label}**: no on-CPU samples"

    def rows(counter: Counter) -> str:
        return "<br>".join(f"{n / total:.0%} `{name.replace('|', '/')}`"
                           for name, n in counter.most_common(top))

    return (f"**{label}** ({total} samples holding the GIL)\n\n| on CPU in (leaf frame's package) "
            f"| hottest leaf functions | django_qstash functions (inclusive) |\n|---|---|---|\n"
            f"| {rows(packages)} | {rows(_shorten(leaf))} | {rows(_shorten(ours))} |")


def _shorten(counter: Counter) -> Counter:
    """Drop directories from ``func (/long/path/file.py)`` names, adding up what then collides."""
    short: Counter = Counter()
    for name, n in counter.items():
        short[re.sub(r"\(/.*/", "(", name)] += n
    return short
