"""Claiming rows under lock: which rows a claim locks and which of their fields it loads."""

from __future__ import annotations

# Only what claiming and the ACTIVE event need; bodies stay in the database.
CLAIM_FIELDS = ("id", "tenant_id", "kind", "url", "topic_name", "endpoint_name", "queue_name",
                "schedule_id", "flow_control_key", "labels", "label_index", "timeout_seconds",
                "claim_token", "created_at", "not_before")


def locked(queryset):
    """Rows to claim (engine.transitions.claim): those another dispatcher holds are skipped."""
    # SKIP LOCKED lets several dispatchers claim side by side without waiting on each other.
    return queryset.select_for_update(skip_locked=True, of=("self",))
