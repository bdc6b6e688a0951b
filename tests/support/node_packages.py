"""Node and the official SDKs' npm packages for the SDK test harnesses, installed when stale."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

MIN_NODE_MAJOR = 20
INSTALL_TIMEOUT = 300


def unavailable(what: str, reason: str):
    """Fail under CI=true, elsewhere skip loudly."""
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"CI=true but the {what} cannot start: {reason}")
    print(f"\n!!! SKIPPED the {what}: {reason} !!!", file=sys.stderr)
    pytest.skip(f"{what} not possible: {reason}")


def versions(directory: Path, packages: tuple[str, ...]) -> tuple[dict, dict]:
    """(pinned in package.json, installed in node_modules) for each package."""
    dependencies = json.loads((directory / "package.json").read_text())["dependencies"]
    installed = {}
    for package in packages:
        try:
            manifest = directory / "node_modules" / package / "package.json"
            installed[package] = json.loads(manifest.read_text())["version"]
        except (OSError, ValueError, KeyError):
            installed[package] = None
    return {package: dependencies.get(package) for package in packages}, installed


def node_with_packages(directory: Path, packages: tuple[str, ...], what: str) -> str:
    """The node binary, once ``npm ci`` has installed the pinned packages in ``directory``."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        unavailable(what, f"node and npm must be on PATH (node={node}, npm={npm})")
    version = subprocess.run([node, "--version"], capture_output=True, text=True,
                             check=False).stdout.strip()
    try:
        major = int(version.lstrip("v").split(".")[0])
    except ValueError:
        major = 0
    if major < MIN_NODE_MAJOR:
        unavailable(what, f"Node {MIN_NODE_MAJOR}+ is needed, found {version or 'nothing'}")
    pinned, installed = versions(directory, packages)
    if installed != pinned:
        try:
            done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=directory,
                                  capture_output=True, text=True, timeout=INSTALL_TIMEOUT,
                                  check=False)
        except subprocess.TimeoutExpired:
            unavailable(what, f"`npm ci` did not finish in {INSTALL_TIMEOUT} s")
        pinned, installed = versions(directory, packages)
        if done.returncode != 0 or installed != pinned:
            unavailable(what, f"`npm ci` in {directory} failed (exit {done.returncode}):\n"
                              f"{done.stdout}\n{done.stderr}")
    return node


def run_node_test_file(node: str, directory: Path, test_file: str, env: dict,
                   pattern: str | None, timeout: float) -> tuple[int, str, float]:
    """``node --test`` on one file (only the cases matching ``pattern`` when given):
    (exit status, its output, seconds taken); printed too, for the test log."""
    selection = [f"--test-name-pattern={pattern}"] if pattern else []
    started = time.monotonic()
    try:
        done = subprocess.run([node, "--test", "--test-reporter=spec", *selection, test_file],
                              cwd=directory, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`node --test` did not finish in {timeout} s:\n"
                    f"{exc.stdout or ''}\n{exc.stderr or ''}")
    elapsed = time.monotonic() - started
    output = f"{done.stdout}\n{done.stderr}".strip()
    print(f"\nnode --test ({elapsed:.1f} s):\n{output}")
    return done.returncode, output, elapsed
