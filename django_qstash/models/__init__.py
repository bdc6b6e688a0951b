"""All models of django_qstash, importable from one place."""

from .dlq import DlqEntry
from .event import Event
from .message import DeliveryAttempt, Message
from .overview import Overview
from .rollup import ActivityHour, ActivityMinute, DestinationHour, RollupFold
from .routing import DeduplicationRecord, FlowControlKey, Queue, UrlGroup, UrlGroupEndpoint
from .schedule import Schedule
from .task_result import TaskResultRecord
from .tenancy import ApiToken, SigningKeyPair, Tenant, hash_token
from .workflow import WorkflowEvent, WorkflowRun, WorkflowStep, WorkflowWaiter

__all__ = [
    "ActivityHour", "ActivityMinute", "ApiToken", "DeduplicationRecord", "DestinationHour", "DeliveryAttempt", "DlqEntry", "Event", "FlowControlKey",
    "Message", "Overview", "Queue", "RollupFold", "Schedule", "SigningKeyPair", "TaskResultRecord", "Tenant", "UrlGroup",
    "UrlGroupEndpoint", "WorkflowEvent", "WorkflowRun", "WorkflowStep",
    "WorkflowWaiter", "hash_token",
]
