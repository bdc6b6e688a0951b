"""Build Event rows (the log) from messages; callers save them in their own transaction."""

from __future__ import annotations

from datetime import datetime

from django_qstash.db.drafts import EventDraft


def event_for(message, state: str, at: datetime, **extra) -> EventDraft:
    """The log row for ``message`` (a model instance or a draft) entering ``state``."""
    return EventDraft(
        tenant_id=message.tenant_id,
        message_id=message.id,
        state=state,
        time=at,
        url=message.url,
        topic_name=message.topic_name,
        endpoint_name=message.endpoint_name,
        queue_name=message.queue_name,
        schedule_id=message.schedule_id,
        flow_control_key=message.flow_control_key,
        labels=message.labels,
        label_index=message.label_index,
        **extra,
    )
