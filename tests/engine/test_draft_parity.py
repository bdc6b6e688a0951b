"""A draft has the attributes a model instance built from the same fields has, its defaults its own."""

from __future__ import annotations

import pytest

from django_qstash.core import clock
from django_qstash.db.bulk_insert import table
from django_qstash.db.drafts import EventDraft, MessageDraft
from django_qstash.models import Event, Message

NOW = clock.now()
FIELDS = {
    MessageDraft: dict(id="msg_1", tenant_id=1, url="https://example.com/", not_before=NOW,
                       created_at=NOW),
    EventDraft: dict(tenant_id=1, message_id="msg_1", state="CREATED", time=NOW,
                     url="https://example.com/"),
}


@pytest.mark.parametrize("draft_class", [MessageDraft, EventDraft])
def test_a_draft_has_every_attribute_of_a_model_instance(draft_class):
    fields = FIELDS[draft_class]
    draft, instance = draft_class(**fields), draft_class.model(**fields)
    for name in table(draft_class.model).attnames:
        assert getattr(draft, name) == getattr(instance, name), name


@pytest.mark.parametrize("draft_class", [MessageDraft, EventDraft])
def test_a_drafts_mutable_defaults_are_its_own(draft_class):
    fields = FIELDS[draft_class]
    first, second = draft_class(**fields), draft_class(**fields)
    mutable = [name for name in table(draft_class.model).attnames
               if isinstance(getattr(first, name), (dict, list))]
    assert mutable  # the models have JSON columns defaulting to {} or []
    for name in mutable:
        value = getattr(first, name)
        value.append("x") if isinstance(value, list) else value.update(x=["y"])
        assert getattr(second, name) == getattr(draft_class.model(**fields), name), name
        assert getattr(draft_class(**fields), name) == getattr(second, name), name


def test_given_values_are_kept_as_given():
    headers = {"A": ["b"]}
    assert MessageDraft(**FIELDS[MessageDraft], headers=headers).headers is headers
    assert Message(**FIELDS[MessageDraft], headers=headers).headers is headers
    assert Event(**FIELDS[EventDraft]).labels == EventDraft(**FIELDS[EventDraft]).labels == []
