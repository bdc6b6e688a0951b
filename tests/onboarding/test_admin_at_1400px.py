"""The dev server's admin in headless Chromium at 1,400 px: styled, with a printed login, the
columns that matter in view, and states as badges rather than error-red crosses.

Set QSTASH_SAVE_SCREENSHOTS=1 to refresh docs/screenshots/dev-admin-*.png from this run.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from qstash import QStash

from tests.operator.browser import ensure_chromium, start_driver
from tests.operator.test_browser import wait_until
from tests.receiver_e2e.test_dev_server_roundtrip import wait_for
from tests.support import http_client

from .test_dev_server_first_use import ADMIN_LINE, start  # noqa: F401  (fixture)

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"
WIDTH = 1400


@pytest.fixture
def browser(tmp_path):
    ensure_chromium()
    driver = start_driver(tmp_path / "profile")
    driver.set_page_load_timeout(30)
    driver.set_window_size(WIDTH, 900)
    yield driver
    driver.quit()


def column_fits(driver, header_class: str) -> bool:
    """The column's header ends inside the window: no sideways scrolling to see it."""
    return driver.execute_script(
        "const th = document.querySelector('#result_list thead th.' + arguments[0]);"
        "return th !== null && th.getBoundingClientRect().right <= window.innerWidth;",
        header_class)


def test_the_dev_admin_at_1400px(start, browser, tmp_path):  # noqa: F811
    server = start("--admin")
    server.wait_ready()
    url, user, password = ADMIN_LINE.search(server.output()).groups()
    token = re.search(r"^QSTASH_TOKEN=(\S+)$", server.output(), re.MULTILINE)[1]
    client = QStash(token, base_url=server.url)
    # A dead letter (nothing listens on the dev server's /nowhere: 404), a delivered message,
    # a delayed one, and a schedule.
    failed = client.message.publish_json(url=f"{server.url}/nowhere", body={"a": 1}, retries=0)
    client.message.publish_json(url=f"{server.url}/admin/login/", body={"b": 2}, method="GET")
    client.message.publish_json(url=f"{server.url}/admin/login/", body={"c": 3}, delay="1h",
                                method="GET")
    client.schedule.create_json(destination=f"{server.url}/admin/login/", cron="0 3 * * *",
                                body={"nightly": True})
    auth = {"Authorization": f"Bearer {token}"}
    wait_for(lambda: http_client.get(server.url + "/v2/dlq", headers=auth).json()["messages"],
             "the DLQ entry", server.log)

    shots = DOCS if os.environ.get("QSTASH_SAVE_SCREENSHOTS") == "1" else tmp_path / "shots"
    shots.mkdir(parents=True, exist_ok=True)
    browser.get(url)
    browser.find_element("name", "username").send_keys(user)
    browser.find_element("name", "password").send_keys(password)
    browser.find_element("css selector", "input[type=submit]").click()
    # The click returns before the answer to the login form has loaded: wait for the page it
    # leads to (the index, or the form again with its error).
    wait_until(lambda: "Site administration" in browser.page_source
               or "errornote" in browser.page_source, what="the answer to the login form")
    assert "/admin/login/" not in browser.current_url, "the printed login was refused"
    # Styled: the admin's stylesheet colours the header (unstyled, it is transparent).
    header = browser.execute_script(
        "return getComputedStyle(document.getElementById('header')).backgroundColor")
    assert header not in ("rgba(0, 0, 0, 0)", "transparent")
    browser.save_screenshot(str(shots / "dev-admin-index.png"))

    browser.get(server.url + "/admin/django_qstash/dlqentry/")
    assert failed.message_id in browser.page_source
    assert column_fits(browser, "column-response_status")
    assert column_fits(browser, "column-short_error")
    browser.save_screenshot(str(shots / "dev-admin-dlq.png"))

    browser.get(server.url + "/admin/django_qstash/schedule/")
    assert column_fits(browser, "column-next_schedule_time")
    assert column_fits(browser, "column-state")
    badges = browser.find_elements("css selector", "#result_list .qstash-badge-running")
    assert badges and not browser.find_elements("css selector", "#result_list img[alt=False]")
    browser.save_screenshot(str(shots / "dev-admin-schedules.png"))

    browser.get(server.url + "/admin/django_qstash/schedule/")
    browser.find_element("css selector", "#result_list th.field-schedule_id a").click()
    destination = browser.find_element("name", "destination")
    assert destination.tag_name == "input"   # one line, not a text area

    browser.get(server.url + "/admin/django_qstash/message/")
    states = {b.text for b in browser.find_elements("css selector", "#result_list .qstash-badge")}
    assert {"failed", "pending"} <= states
    browser.save_screenshot(str(shots / "dev-admin-messages.png"))

    # The admin's dark theme: badges keep the theme's (now light) text on a tinted ground.
    browser.execute_script("localStorage.setItem('theme', 'dark')")
    browser.refresh()
    colour = browser.execute_script(
        "return getComputedStyle(document.querySelector('#result_list .qstash-badge')).color")
    red, green, blue = (int(part) for part in re.findall(r"\d+", colour)[:3])
    assert (red + green + blue) / 3 > 150, colour
    browser.save_screenshot(str(shots / "dev-admin-messages-dark.png"))
