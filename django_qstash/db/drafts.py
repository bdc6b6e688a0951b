"""New rows as plain objects: a tenth of a model instance's cost to build, written by bulk_insert."""

from __future__ import annotations

from functools import lru_cache

from django_qstash.db.bulk_insert import table
from django_qstash.models import DeliveryAttempt, Event, Message


@lru_cache(maxsize=None)
def _defaults(model) -> dict:
    spec = table(model)
    return dict(zip(spec.attnames, spec.defaults))


@lru_cache(maxsize=None)
def _mutable_defaults(model) -> tuple[str, ...]:
    return tuple(name for name, value in _defaults(model).items()
                 if isinstance(value, (dict, list)))


class Draft:
    """Attributes named like the model's (``tenant_id``, not ``tenant``); the rest default."""

    model: type

    def __init__(self, **fields) -> None:
        attributes = self.__dict__
        attributes.update(_defaults(self.model))
        attributes.update(fields)
        for name in _mutable_defaults(self.model):
            if name not in fields:
                # Each draft its own {} or [], as a model instance has: the defaults are
                # shared by every draft, and a change to one must not reach the others.
                attributes[name] = attributes[name].copy()

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.__dict__.get('id') or self.__dict__.get('message_id')}>"


class MessageDraft(Draft):
    model = Message


class EventDraft(Draft):
    model = Event


class AttemptDraft(Draft):
    model = DeliveryAttempt
