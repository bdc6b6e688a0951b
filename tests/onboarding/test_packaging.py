"""The package builds without setuptools warnings, declares what production serves with, and
ignores nothing it tracks."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from tests.support.stack import ROOT


def test_the_wheel_builds_without_license_warnings(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-v", "-w", str(tmp_path), str(ROOT)],
        capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    output = result.stdout + result.stderr
    assert "project.license" not in output and "License classifiers" not in output
    [wheel] = tmp_path.glob("django_qstash_server-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        [metadata] = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        text = archive.read(metadata).decode()
    assert "License-Expression: MIT" in text
    assert "Requires-Dist: whitenoise<7,>=6.6; extra == \"server\"" in text


def test_gitignore_matches_no_tracked_file():
    tracked_but_ignored = subprocess.run(
        ["git", "ls-files", "--cached", "--ignored", "--exclude-standard"], cwd=ROOT,
        capture_output=True, text=True, check=True).stdout
    assert tracked_but_ignored == ""
