"""POST /v2/schedules/{destination}; list, get, delete, pause and resume schedules."""

from __future__ import annotations

from rest_framework.response import Response

from django_qstash.api.base import QStashView, caller_ip, header_pairs, raw_body
from django_qstash.api.serializers import body_fields, redact_value, shown_headers
from django_qstash.api.views.publish import config_query, destination_from_request
from django_qstash.conf import qstash_settings
from django_qstash.core.clock import to_ms
from django_qstash.core.request_headers import PublishOptions
from django_qstash.engine import scheduler
from django_qstash.models import Schedule


def _present(**values) -> dict:
    return {k: v for k, v in values.items() if v not in ("", None, [], {})}


def schedule_json(schedule: Schedule, states: dict[str, str],
                  hide_credentials: bool = False) -> dict:
    """One schedule exactly as the SDKs parse it (py requires scheduleId…retries)."""
    opts = PublishOptions.from_dict((schedule.options or {}).get("parsed") or {})
    redact = [f.lower() for f in opts.redact_fields]
    body = bytes(schedule.body or b"")
    callback, failure = opts.callback, opts.failure_callback
    data = {
        "scheduleId": schedule.schedule_id,
        "cron": schedule.cron,
        "destination": schedule.destination,
        "createdAt": to_ms(schedule.created_at),
        "method": opts.method,
        "retries": qstash_settings.DEFAULT_RETRIES if opts.retries is None else opts.retries,
        "isPaused": schedule.paused,
        "header": shown_headers(opts.headers, redact, hide_credentials),
        **({"body": redact_value(body)} if body and "body" in redact else body_fields(body)),
        **_present(
            delay=opts.delay_seconds, timeout=opts.timeout_seconds,
            callback=callback.url if callback else None,
            callbackHeader=shown_headers(callback.headers, None, hide_credentials)
            if callback else None,
            failureCallback=failure.url if failure else None,
            failureCallbackHeader=shown_headers(failure.headers, None, hide_credentials)
            if failure else None,
            queueName=schedule.queue_name,
            callerIp=schedule.caller_ip, callerIP=schedule.caller_ip,
            retryDelayExpression=opts.retry_delay,
            lastScheduleTime=to_ms(schedule.last_schedule_time),
            nextScheduleTime=to_ms(schedule.next_schedule_time),
            lastScheduleStates=states,
            error=schedule.last_error,
        ),
    }
    if opts.flow_control_key:
        data.update(flowControlKey=opts.flow_control_key, period=opts.flow_control_period or 1,
                    **_present(parallelism=opts.flow_control_parallelism,
                               rate=opts.flow_control_rate))
    if opts.labels:
        data["label"] = opts.labels[0]
        data["labels"] = opts.labels
    return data


class ScheduleListView(QStashView):
    def get(self, request):
        schedules = list(Schedule.objects.filter(tenant=self.tenant).order_by("created_at", "id"))
        states = scheduler.produced_states(schedules)
        return Response([schedule_json(s, states[s.pk], self.hides_credentials)
                         for s in schedules])


class ScheduleView(QStashView):
    """``target`` is a destination for POST and a schedule id for GET and DELETE."""

    def post(self, request, target: str):
        schedule = scheduler.create_or_replace(
            self.tenant, destination_from_request(request, target), raw_body(request),
            header_pairs(request), caller_ip(request), config_query(request))
        return Response({"scheduleId": schedule.schedule_id})

    def get(self, request, target: str):
        schedule = scheduler.get(self.tenant, target)
        return Response(schedule_json(schedule, scheduler.produced_states([schedule])[schedule.pk],
                                      self.hides_credentials))

    def delete(self, request, target: str):
        scheduler.delete(self.tenant, target)
        return Response({"deleted": True})


class ScheduleActionView(QStashView):
    """Pause or resume: the SDKs send PATCH, the docs say POST; both work."""

    def post(self, request, schedule_id: str, action: str):
        scheduler.set_paused(scheduler.get(self.tenant, schedule_id), action == "pause")
        return Response({})

    patch = post
