"""The plain-Celery webhook sender people write instead: one task per webhook, requests.post."""

import os

import requests
from celery import Celery

app = Celery("webhooks", broker=os.environ.get("BASELINE_BROKER_URL", "redis://127.0.0.1:6379/13"))
app.conf.task_default_queue = "webhooks"
app.conf.broker_connection_retry_on_startup = True


@app.task(name="webhooks.post_webhook", ignore_result=True,
          autoretry_for=(requests.RequestException,), retry_backoff=True,
          retry_backoff_max=600, retry_jitter=True, max_retries=3)
def post_webhook(url: str, body: str, headers: dict | None = None) -> None:
    response = requests.post(url, data=body, timeout=30,
                             headers={"Content-Type": "application/json", **(headers or {})})
    response.raise_for_status()
