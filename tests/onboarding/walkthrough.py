"""Run a Markdown walk-through as written: its shell commands, its file snippets, in order.

Fences say what a block is: ```` ```bash ```` lines are run one by one (``export`` carries
over), ```` ```bash long-running ```` lines are started and kept running, ```` ```python
path/to/file.py ```` is appended to that file of the project, anything else is shown output.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

FENCE = re.compile(r"^```(\w+)[ \t]*([^\n]*)\n(.*?)^```[ \t]*$", re.MULTILINE | re.DOTALL)


@dataclass
class Block:
    language: str
    tag: str
    body: str


def sections(text: str) -> dict[str, list[Block]]:
    """Blocks under each ``## `` heading, in order."""
    found: dict[str, list[Block]] = {}
    for part in re.split(r"^## ", text, flags=re.MULTILINE)[1:]:
        heading = part.splitlines()[0].strip()
        found[heading] = [Block(m[1], m[2].strip(), m[3]) for m in FENCE.finditer(part)]
    return found


def commands(block: Block) -> list[str]:
    return [line for line in block.body.splitlines() if line.strip() and
            not line.lstrip().startswith("#")]


@dataclass
class Walkthrough:
    directory: Path
    env: dict[str, str]
    substitutions: dict[str, str] = field(default_factory=dict)
    processes: list[tuple[subprocess.Popen, Path]] = field(default_factory=list)
    outputs: list[str] = field(default_factory=list)
    # Called with each shell command once it has run (e.g. to prepare what the next needs).
    after_command: Callable[[str], None] = lambda command: None

    def substitute(self, text: str) -> str:
        for old, new in self.substitutions.items():
            text = text.replace(old, new)
        return text

    def run(self, block: Block) -> None:
        if block.language == "bash" and block.tag == "long-running":
            for line in commands(block):
                self.start(line)
        elif block.language == "bash":
            for line in commands(block):
                self.shell(line)
        elif block.language == "python" and block.tag:
            target = self.directory / block.tag
            target.parent.mkdir(parents=True, exist_ok=True)
            existing = target.read_text() if target.exists() else ""
            target.write_text(existing + "\n\n" + self.substitute(block.body))

    def shell(self, line: str) -> str:
        command = self.substitute(line)
        env_file = self.directory / ".walkthrough-env"
        result = subprocess.run(["bash", "-c", f"set -e\n{command}\nenv -0 > {env_file}"],
                                cwd=self.directory, env=self.env, capture_output=True,
                                text=True, timeout=600)
        assert result.returncode == 0, (
            f"`{command}` failed ({result.returncode}):\n{result.stdout[-3000:]}\n"
            f"{result.stderr[-3000:]}")
        self.env = dict(item.split("=", 1) for item in
                        env_file.read_text().split("\0") if "=" in item)
        self.outputs.append(result.stdout)
        self.after_command(command)
        return result.stdout

    def start(self, line: str) -> Path:
        command = self.substitute(line)
        log = self.directory / f".process-{len(self.processes)}.log"
        with open(log, "wb") as out:
            process = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=self.directory,
                                       env={**self.env, "PYTHONUNBUFFERED": "1"}, stdout=out,
                                       stderr=subprocess.STDOUT, start_new_session=True)
        self.processes.append((process, log))
        return log

    def log_of(self, needle: str) -> Path:
        """The log of the long-running process whose command line contains ``needle``."""
        for process, log in self.processes:
            if needle in " ".join(process.args):
                return log
        raise KeyError(needle)

    def wait_for(self, predicate: Callable[[], object], what: str, timeout: float = 90) -> object:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if value := predicate():
                return value
            for process, log in self.processes:
                assert process.poll() is None, (
                    f"{process.args} exited while waiting for {what}:\n"
                    f"{log.read_text(errors='replace')[-4000:]}")
            time.sleep(0.2)
        logs = "\n".join(f"--- {p.args}\n{log.read_text(errors='replace')[-3000:]}"
                         for p, log in self.processes)
        raise AssertionError(f"timed out waiting for {what}\n{logs}")

    def stop(self) -> None:
        for process, _ in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(10)
        self.processes.clear()
