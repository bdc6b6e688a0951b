"""All models of django_qstash, importable from one place."""

from django_qstash.models.dlq import DlqEntry
from django_qstash.models.event import Event
from django_qstash.models.message import DeliveryAttempt, Message
from django_qstash.models.overview import Overview
from django_qstash.models.rollup import ActivityHour, ActivityMinute, DestinationHour, RollupFold
from django_qstash.models.routing import (
    DeduplicationRecord,
    FlowControlKey,
    Queue,
    UrlGroup,
    UrlGroupEndpoint,
)
from django_qstash.models.schedule import Schedule
from django_qstash.models.task_result import TaskResultRecord
from django_qstash.models.tenancy import ApiToken, SigningKeyPair, Tenant, hash_token
from django_qstash.models.workflow import (
    WorkflowEvent,
    WorkflowRun,
    WorkflowStep,
    WorkflowWaiter,
)

__all__ = [
    "ActivityHour", "ActivityMinute", "ApiToken", "DeduplicationRecord", "DestinationHour", "DeliveryAttempt", "DlqEntry", "Event", "FlowControlKey",
    "Message", "Overview", "Queue", "RollupFold", "Schedule", "SigningKeyPair", "TaskResultRecord", "Tenant", "UrlGroup",
    "UrlGroupEndpoint", "WorkflowEvent", "WorkflowRun", "WorkflowStep",
    "WorkflowWaiter", "hash_token",
]
