"""The worker's raw-SQL reads (owned_rows) and writes (transitions) agree with the same operations through the ORM."""

from __future__ import annotations

from datetime import timedelta

import pytest

from django_qstash.core import clock, ids
from django_qstash.core.leases import lease_until
from django_qstash.db.owned_rows import cancel_flags, load_owned
from django_qstash.engine import transitions
from django_qstash.engine.tenants import create_tenant
from django_qstash.models import Message, SigningKeyPair
from tests.support.message_fields import KOLKATA, message_cases
from tests.support.rows import assert_same_row, field_values

pytestmark = pytest.mark.django_db(transaction=True)

ACTIVE = Message.Status.ACTIVE
TOKEN = 5
CASES = list(message_cases(clock.now()))


def create(tenant, case: str = "required only", at=None, **overrides) -> Message:
    fields = {**message_cases(at or clock.now())[case], "status": ACTIVE, "claim_token": TOKEN,
              "lease_expires_at": None, **overrides}
    return Message.objects.create(id=ids.message_id(), tenant=tenant, **fields)


def owned_by_orm(items) -> list[Message]:
    """What load_owned does, through the ORM."""
    tokens = dict(items)
    rows = Message.objects.filter(id__in=list(tokens), status=ACTIVE)
    return [m for m in rows if m.claim_token == tokens[m.id]]


@pytest.mark.parametrize("case", CASES)
def test_loaded_messages_equal_the_orms(case):
    tenant = create_tenant("parity-load")
    keys = SigningKeyPair.for_tenant(tenant)
    created = create(tenant, case, status=ACTIVE, claim_token=TOKEN)
    [loaded] = load_owned([(created.id, TOKEN)])
    [orm] = owned_by_orm([(created.id, TOKEN)])
    assert field_values(loaded, skip=()) == field_values(orm, skip=())
    for field in Message._meta.concrete_fields:  # the code reading them sees the same types
        loaded_value, orm_value = getattr(loaded, field.attname), getattr(orm, field.attname)
        if field.get_internal_type() == "BinaryField":  # memoryview or bytes, by backend
            assert isinstance(loaded_value, (bytes, memoryview)), field.attname
        else:
            assert type(loaded_value) is type(orm_value), field.attname
    assert loaded.signing_key == keys.current
    assert loaded._state.adding is False


def test_only_owned_messages_are_loaded_as_the_orm_selects_them():
    keyed, keyless = create_tenant("parity-keyed"), create_tenant("parity-keyless")
    SigningKeyPair.objects.filter(tenant=keyless).delete()
    rows = [create(keyed), create(keyless), create(keyed, claim_token=TOKEN + 1),
            create(keyed, status=Message.Status.PENDING),
            create(keyed, status=Message.Status.DELIVERED)]
    items = [(m.id, TOKEN) for m in rows] + [("msg_missing", TOKEN)]
    loaded = load_owned(items)
    assert sorted(m.id for m in loaded) == sorted(m.id for m in owned_by_orm(items))
    assert sorted(m.id for m in loaded) == sorted([rows[0].id, rows[1].id])
    assert {m.id: m.signing_key for m in loaded}[rows[1].id] is None


def pairs_of_rows(now):
    """Twin rows (one for the raw SQL, one for the ORM) in every state the writes meet."""
    tenant = create_tenant("parity-writes")
    SigningKeyPair.for_tenant(tenant)
    variants = [
        {"lease_expires_at": None},
        {"lease_expires_at": now - timedelta(seconds=1)},  # lapses before the attempt ends
        {"lease_expires_at": now + timedelta(days=1)},  # already covers it
        {"timeout_seconds": 300, "lease_expires_at": now + timedelta(seconds=30)},
        {"not_before": now + timedelta(seconds=2)},  # claimed ahead of its time
        {"cancel_requested": True, "case": "unicode"},
        {"case": "every column"},
    ]
    pairs = []
    for variant in variants:
        variant = dict(variant)
        case = variant.pop("case", "required only")
        pairs.append((create(tenant, case, now, **variant), create(tenant, case, now, **variant)))
    return pairs


def lose_ownership(message: Message) -> None:
    """Another claim took the row over after this worker loaded it."""
    Message.objects.filter(id=message.id).update(claim_token=TOKEN + 1)


def test_extended_leases_equal_the_orms():
    now = clock.now().astimezone(KOLKATA)
    pairs = pairs_of_rows(now)
    lose_ownership(pairs[0][0]), lose_ownership(pairs[0][1])
    fast = load_owned([(a.id, TOKEN) for a, _ in pairs])  # the one taken over is not loaded
    orm = owned_by_orm([(b.id, TOKEN) for _, b in pairs])
    for a, b in pairs[1:3]:  # loaded, then taken over: the write must not touch them
        lose_ownership(a), lose_ownership(b)
    transitions.renew(fast, now)
    for message in orm:
        needed = lease_until(message, now, started=True)
        if message.lease_expires_at is None or message.lease_expires_at < needed:
            Message.objects.filter(id=message.id, status=ACTIVE,
                                   claim_token=message.claim_token).update(lease_expires_at=needed)
    for a, b in pairs:
        assert_same_row(Message, a.id, b.id)
    extended = Message.objects.get(id=pairs[3][0].id).lease_expires_at
    assert extended == now + timedelta(seconds=300 + 30)  # the test moves something


def test_delivered_messages_equal_the_orms():
    status = Message.Status.DELIVERED
    now = clock.now().astimezone(KOLKATA)
    pairs = pairs_of_rows(now)
    fast = load_owned([(a.id, TOKEN) for a, _ in pairs])
    orm = owned_by_orm([(b.id, TOKEN) for _, b in pairs])
    for a, b in pairs[:2]:
        lose_ownership(a), lose_ownership(b)
    finished = transitions.deliver_owned(fast, now)
    finished_by_orm = set()
    for message in orm:
        mine = Message.objects.filter(id=message.id, status=ACTIVE, claim_token=message.claim_token)
        if mine.update(status=status, finished_at=now, lease_expires_at=None, updated_at=now):
            finished_by_orm.add(message.id)
    twin = {a.id: b.id for a, b in pairs}
    assert {twin[i] for i in finished} == finished_by_orm
    assert len(finished) == len(pairs) - 2
    for a, b in pairs:
        if a.id in finished:  # both wrote the same updated_at
            assert_same_row(Message, a.id, b.id, skip=("id",))
        else:
            assert_same_row(Message, a.id, b.id)


def test_cancel_flags_equal_the_orms():
    now = clock.now()
    pairs = pairs_of_rows(now)
    fast_rows = load_owned([(a.id, TOKEN) for a, _ in pairs])
    orm_rows = owned_by_orm([(b.id, TOKEN) for _, b in pairs])
    Message.objects.filter(id__in=[pairs[0][0].id, pairs[0][1].id]).update(cancel_requested=True)
    lose_ownership(pairs[1][0]), lose_ownership(pairs[1][1])
    Message.objects.filter(id__in=[pairs[2][0].id, pairs[2][1].id]).update(
        status=Message.Status.CANCELED)
    flags = cancel_flags(fast_rows)
    tokens = {m.id: m.claim_token for m in orm_rows}
    by_orm = {m.id: m.cancel_requested
              for m in Message.objects.filter(id__in=list(tokens), status=ACTIVE)
              if m.claim_token == tokens[m.id]}
    twin = {a.id: b.id for a, b in pairs}
    assert {twin[i]: flag for i, flag in flags.items()} == by_orm
    # Both answers seen: pair 0 (set above), pair 5 and pair 6 (created so) ask for a cancel.
    assert sorted(flags.values()) == [False, False, True, True, True]


def test_requeued_messages_equal_the_orms():
    now = clock.now().astimezone(KOLKATA)
    pairs = pairs_of_rows(now)
    fast = load_owned([(a.id, TOKEN) for a, _ in pairs])
    orm = owned_by_orm([(b.id, TOKEN) for _, b in pairs])
    for a, b in pairs[:2]:
        lose_ownership(a), lose_ownership(b)
    due = now + timedelta(seconds=7)
    transitions.requeue(fast, now, not_before=due)
    for message in orm:
        Message.objects.filter(id=message.id, status=ACTIVE, claim_token=message.claim_token
                               ).update(status=Message.Status.PENDING, lease_expires_at=None,
                                        updated_at=now, not_before=due)
    for a, b in pairs:
        assert_same_row(Message, a.id, b.id)
    assert Message.objects.get(id=pairs[3][0].id).status == Message.Status.PENDING


def test_a_send_renews_only_an_owned_uncancelled_lease_as_the_orm_does():
    tenant = create_tenant("parity-renew")
    now = clock.now().astimezone(KOLKATA)
    rows = [create(tenant, at=now), create(tenant, at=now, cancel_requested=True),
            create(tenant, at=now, claim_token=TOKEN + 1),
            create(tenant, at=now, status=Message.Status.PENDING)]
    twins = [create(tenant, at=now, cancel_requested=m.cancel_requested,
                    claim_token=m.claim_token, status=m.status) for m in rows]
    renewed = []
    for message, twin in zip(rows, twins):
        message.claim_token = twin.claim_token = TOKEN
        renewed.append(transitions.renew_for_send(message, now))
        Message.objects.filter(pk=twin.id, status=ACTIVE, claim_token=TOKEN,
                               cancel_requested=False).update(
            lease_expires_at=lease_until(twin, now, started=True))
        assert_same_row(Message, message.id, twin.id)
    assert renewed == [True, False, False, False]


def test_a_locked_owned_row_equals_the_orms():
    tenant = create_tenant("parity-lock")
    owned, lost = create(tenant), create(tenant, claim_token=TOKEN + 1)
    locked = transitions.lock_owned(owned.id, TOKEN)
    assert field_values(locked, skip=()) == field_values(Message.objects.get(pk=owned.id), skip=())
    assert transitions.lock_owned(lost.id, TOKEN) is None
    assert transitions.lock_owned(create(tenant, status=Message.Status.PENDING).id, TOKEN) is None
