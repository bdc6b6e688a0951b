"""The real admin in headless Chromium: log in, retry a DLQ entry, see it delivered.

Set QSTASH_SAVE_SCREENSHOTS=1 to refresh docs/screenshots/ from this run.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from tests.e2e.helpers import api, publish, wait_for_state

from .browser import ensure_chromium, start_driver

pytestmark = pytest.mark.django_db(transaction=True)
DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


@pytest.fixture(scope="session")
def chromium_ready():
    ensure_chromium()


@pytest.fixture
def browser(chromium_ready, tmp_path):
    driver = start_driver(tmp_path / "profile")
    driver.set_page_load_timeout(30)
    yield driver
    driver.quit()


@pytest.fixture
def shots(tmp_path):
    directory = DOCS if os.environ.get("QSTASH_SAVE_SCREENSHOTS") == "1" else tmp_path / "shots"
    directory.mkdir(parents=True, exist_ok=True)

    def take(driver, name: str, height: int = 1000, width: int = 1680) -> Path:
        driver.set_window_size(width, 1000)
        full = driver.execute_script("return document.body.scrollHeight")
        driver.set_window_size(width, max(height, min(full, 2400)))
        path = directory / f"{name}.png"
        driver.save_screenshot(str(path))
        driver.set_window_size(1680, 1000)
        return path
    return take


def wait_until(check, timeout: float = 20, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if result := check():
            return result
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_retry_a_dlq_entry_from_the_admin(qstash, sink, browser, shots, monkeypatch,
                                          django_user_model):
    from selenium.webdriver.common.by import By

    from django_qstash.engine import scheduler
    from django_qstash.models import DlqEntry, Message, Queue

    django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
    failed_id = publish(qstash, f"{sink.url}/status/500", '{"order": 42}',
                        Content_Type="application/json", Upstash_Retries="0")
    wait_for_state(qstash, failed_id, "FAILED")
    entry = DlqEntry.objects.get(message_id=failed_id)
    # Some context for the screenshots: a delivered message, a queue, a schedule.
    wait_for_state(qstash, publish(qstash, f"{sink.url}/hook", "ok"), "DELIVERED")
    Queue.objects.create(tenant=qstash.tenant, name="orders", parallelism=2, paused=True)
    for number in range(3):
        api(qstash, "POST", f"/v2/enqueue/orders/{sink.url}/orders", content=str(number))
    scheduler.create_or_replace(qstash.tenant, f"{sink.url}/nightly", b"",
                                [("Upstash-Cron", "0 3 * * *")])

    browser.get(f"{qstash.url}/admin/login/?next=/admin/")
    browser.find_element(By.NAME, "username").send_keys("admin")
    browser.find_element(By.NAME, "password").send_keys("pw-for-tests")
    browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
    wait_until(lambda: "Site administration" in browser.page_source, what="login")

    browser.get(f"{qstash.url}/admin/django_qstash/message/")
    assert failed_id in browser.page_source
    shots(browser, "message-list")
    browser.get(f"{qstash.url}/admin/django_qstash/message/{failed_id}/change/")
    assert "500 answer" in browser.page_source
    shots(browser, "message-detail", height=1600)
    browser.get(f"{qstash.url}/admin/django_qstash/queue/")
    shots(browser, "queues")
    browser.get(f"{qstash.url}/admin/django_qstash/schedule/")
    shots(browser, "schedules")

    # The destination has recovered.
    monkeypatch.setattr("tests.support.sink._answer", lambda url, seen: (200, b"ok"))
    browser.get(f"{qstash.url}/admin/django_qstash/dlqentry/")
    shots(browser, "dlq-list")
    browser.find_element(By.LINK_TEXT, entry.dlq_id).click()
    wait_until(lambda: "Edit & retry" in browser.page_source.replace("&amp;", "&"),
               what="the DLQ entry page")
    browser.find_element(By.CSS_SELECTOR, "button.qstash-retry").click()
    banner = wait_until(lambda: browser.find_elements(By.CSS_SELECTOR, ".messagelist .success"),
                        what="the success message")[0].text
    new_id = banner.rsplit(" as ", 1)[1].strip()
    assert banner.startswith(f"Retried {entry.dlq_id}") and new_id.startswith("msg_")

    first, arrival = sink.wait_for(2, "/status/500", timeout=20)
    assert first.headers["Upstash-Message-Id"] == failed_id
    assert arrival.headers["Upstash-Message-Id"] == new_id
    assert arrival.body == b'{"order": 42}'

    def delivered_on_page() -> bool:
        browser.refresh()
        return "DELIVERED" in browser.page_source
    wait_until(delivered_on_page, what="DELIVERED on the message page")
    assert Message.objects.get(pk=new_id).status == "delivered"
    assert not DlqEntry.objects.exists()


def settled(ids, now) -> bool:
    """None of the messages is due by ``now`` and still waiting or being sent. One claimed
    ahead of a later due time is active already, and waits for the clock."""
    from django_qstash.models import Message

    return not Message.objects.filter(pk__in=ids, status__in=["active", "pending"],
                                      not_before__lte=now).exists()


def test_overview_with_real_traffic(qstash, sink, browser, shots, django_user_model):
    """Half an hour of traffic under a clock moved a minute at a time, then the overview."""
    from datetime import timedelta

    from selenium.webdriver.common.by import By

    from django_qstash.core import clock
    from django_qstash.engine import scheduler
    from django_qstash.models import Queue

    frozen = clock.FrozenClock(clock.now().replace(second=0, microsecond=0)
                               - timedelta(minutes=34))
    clock.set_clock(frozen)
    try:
        django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-for-tests")
        refused = "http://127.0.0.1:1/down"  # loopback, nothing listens: refused at once
        for minute in range(35):
            sent = [publish(qstash, f"{sink.url}/sleep/0.0{minute % 7}", "ok")
                    for _ in range(3 + minute * 5 % 9)]
            sent += [publish(qstash, f"{sink.url}/status/500", "x", Upstash_Retries="0")
                     for _ in range(minute % 6 == 0 and 2 or minute % 4 == 1)]
            sent += [publish(qstash, refused, "x", Upstash_Retries="0")
                     for _ in range(minute % 9 == 4)]
            sent += [publish(qstash, f"{sink.url}/flaky/1", "x", Upstash_Retries="2",
                             Upstash_Retry_Delay="1000") for _ in range(minute % 3 == 0)]
            sent += [publish(qstash, f"{sink.url}/later", "x", Upstash_Delay="20s")
                     for _ in range(2 + minute % 4)]
            if minute % 5 == 2:
                doomed = publish(qstash, f"{sink.url}/later", "x", Upstash_Delay="1h")
                api(qstash, "DELETE", f"/v2/messages/{doomed}")
            # The due-now sends answer within their minute, before the clock moves on (a retry
            # is then due a second later in that minute, not after the jump).
            wait_until(lambda ids=sent: settled(ids, frozen.now()),
                       what=f"minute {minute}'s due-now deliveries")
            frozen.advance(20 + minute % 5 * 4 + (minute % 11 == 0) * 30)  # the delayed are due
            wait_until(lambda ids=sent: settled(ids, frozen.now()),
                       what=f"minute {minute}'s deliveries")
            frozen.set(frozen.now().replace(second=0) + timedelta(minutes=1))
        Queue.objects.create(tenant=qstash.tenant, name="orders", parallelism=2, paused=True)
        for number in range(7):
            api(qstash, "POST", f"/v2/enqueue/orders/{sink.url}/orders", content=str(number))
        for number in range(4):
            publish(qstash, f"{sink.url}/sleep/2", str(number),
                    Upstash_Flow_Control_Key="customer-42",
                    Upstash_Flow_Control_Value="parallelism=1")
        scheduler.create_or_replace(qstash.tenant, f"{sink.url}/nightly", b"",
                                    [("Upstash-Cron", "0 3 * * *")])
        scheduler.create_or_replace(qstash.tenant, f"{sink.url}/reports", b"",
                                    [("Upstash-Cron", "*/15 * * * *")])

        browser.get(f"{qstash.url}/admin/login/?next=/admin/")
        browser.find_element(By.NAME, "username").send_keys("admin")
        browser.find_element(By.NAME, "password").send_keys("pw-for-tests")
        browser.find_element(By.CSS_SELECTOR, "input[type=submit]").click()
        wait_until(lambda: "QStash overview" in browser.page_source, what="the admin index")
        browser.find_element(By.LINK_TEXT, "QStash overview").click()
        wait_until(lambda: "Messages per minute" in browser.page_source, what="the overview")
        assert browser.find_elements(By.CSS_SELECTOR, "svg polyline.qs-published")
        shots(browser, "overview", height=1400, width=1400)
        browser.execute_script("localStorage.setItem('theme', 'dark')")
        browser.refresh()
        shots(browser, "overview-dark", height=1400, width=1400)
        browser.execute_script("localStorage.setItem('theme', 'auto')")
        browser.get(f"{qstash.url}/admin/django_qstash/message/")
        shots(browser, "message-list")
    finally:
        clock.set_clock(clock.SystemClock())
