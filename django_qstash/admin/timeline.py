"""A message's history on one page: its events and delivery attempts, in time order."""

from __future__ import annotations

from django.utils.html import format_html, format_html_join

from django_qstash.admin.base import body_html, headers_html
from django_qstash.models import DeliveryAttempt, Event, Message

# A message with 20 retries has ~80 events; these caps only stop pathological pages.
MAX_EVENTS = 500
MAX_ATTEMPTS = 200


def time_text(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3] + " UTC" if moment else "-"


def _event_row(event: Event) -> tuple:
    details = []
    if event.response_status is not None:
        details.append(f"HTTP {event.response_status}")
    if event.error:
        details.append(event.error)
    if event.next_delivery_time:
        details.append(f"next attempt at {time_text(event.next_delivery_time)}")
    return (event.time, format_html('<strong class="qstash-state qstash-state-{}">{}</strong>',
                                    event.state.lower(), event.state), " · ".join(details), "")


def _attempt_row(attempt: DeliveryAttempt) -> tuple:
    status = f"HTTP {attempt.response_status}" if attempt.response_status else "no response"
    summary = f"{status} in {attempt.duration_ms} ms" + (f" · {attempt.error}"
                                                          if attempt.error else "")
    response = format_html(
        "<details><summary>response</summary>{}{}</details>",
        headers_html(attempt.response_headers), body_html(attempt.response_body))
    return (attempt.started_at, format_html("attempt #{}", attempt.retried + 1), summary,
            response)


def timeline_rows(message: Message) -> list[tuple]:
    events = list(Event.objects.filter(tenant_id=message.tenant_id, message_id=message.id)
                  .order_by("id")[:MAX_EVENTS])
    attempts = list(message.attempts.order_by("started_at")[:MAX_ATTEMPTS])
    rows = [_event_row(e) for e in events] + [_attempt_row(a) for a in attempts]
    # An attempt starts before the ERROR/DELIVERED event it causes; sort is stable.
    return sorted(rows, key=lambda row: row[0])


def timeline_html(message: Message) -> str:
    rows = [(time_text(at), what, details, extra) for at, what, details, extra in
            timeline_rows(message)]
    if not rows:
        return "-"
    return format_html(
        '<table class="qstash-timeline"><thead><tr><th>Time</th><th>What</th><th>Details</th>'
        "<th></th></tr></thead><tbody>{}</tbody></table>",
        format_html_join("", "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>", rows))
