"""Tasks the backend tests enqueue: module-level, as Django's task API requires."""

from __future__ import annotations

import asyncio

from django.db import transaction
from django_tasks import TaskContext, task


@task
def add(a: int, b: int) -> int:
    return a + b


@task(queue_name="emails")
def shout(text: str) -> str:
    return text.upper()


@task
def fail(message: str) -> None:
    raise ValueError(message)


@task
async def double_later(value: int) -> int:
    await asyncio.sleep(0)
    return value * 2


@task(takes_context=True)
def succeed_on_attempt(context: TaskContext, attempt: int) -> dict:
    if context.attempt < attempt:
        raise RuntimeError(f"attempt {context.attempt} of {attempt}")
    return {"attempt": context.attempt, "id": context.task_result.id}


class RolledBack(Exception):
    pass


@task
def enqueue_inside_rolled_back_transaction() -> str:
    """Enqueues ``add`` in a transaction that rolls back; returns the id it was given."""
    try:
        with transaction.atomic():
            inner = add.enqueue(1, 1)
            raise RolledBack(inner.id)
    except RolledBack as rolled_back:
        return rolled_back.args[0]


RUNS: list[str] = []


@task
def count_run(label: str) -> int:
    RUNS.append(label)
    return len(RUNS)


@task
def exit_task() -> None:
    raise SystemExit("This task failed due to SystemExit")


@task
def unserializable_return_value():
    return lambda: True  # neither JSON nor picklable


@task
def noop(*args, **kwargs) -> None:
    return None
