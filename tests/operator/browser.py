"""Headless Chromium for admin tests: Debian packages installed on demand, Selenium drives."""

from __future__ import annotations

import os
import shutil
import subprocess
import warnings
from pathlib import Path

import pytest

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1680,1000"]


def unavailable(reason: str):
    """Under CI a missing browser is a failure; elsewhere a loud skip."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the browser test cannot run: {reason}")
    warnings.warn(f"browser test skipped: {reason}")
    pytest.skip(f"!!! browser test skipped: {reason} !!!")


def ensure_chromium() -> None:
    if Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists():
        return
    if not shutil.which("apt-get"):
        unavailable("chromium is missing and apt-get is not available")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run(["apt-get", "update"], check=True, env=env, timeout=900,
                       capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "chromium",
                        "chromium-driver"], check=True, env=env, timeout=1800,
                       capture_output=True)
    except (OSError, subprocess.SubprocessError) as exc:
        detail = getattr(exc, "stderr", b"") or b""
        unavailable(f"apt-get install chromium chromium-driver failed: {exc} "
                    f"{detail[-500:].decode(errors='replace')}")
    if not Path(CHROMIUM).exists():
        unavailable("apt-get finished but /usr/bin/chromium is still missing")


def start_driver(profile_dir: Path):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        unavailable("selenium is not installed (pip install -e '.[test]')")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in [*FLAGS, f"--user-data-dir={profile_dir}"]:
        options.add_argument(flag)
    # An explicit driver path: Selenium must not try to download one.
    return webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
