"""Injectable time source: the engine asks the clock, tests advance a frozen one."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta, timezone
from typing import Protocol


class Clock(Protocol):
    def now(self) -> datetime: ...

    def sleep_step(self, seconds: float) -> float:
        """How long one sleep towards a moment ``seconds`` away may last before the clock is
        asked again."""
        ...


class SystemClock:
    """The wall clock: the one place in the package that reads it."""

    def now(self) -> datetime:
        return datetime.now(timezone.utc)

    def sleep_step(self, seconds: float) -> float:
        # Real time passes while one sleeps: one sleep to the moment.
        return seconds


class FrozenClock:
    """A clock that only moves when told to; safe to share between threads."""

    # Time moves when the test says so: a sleeper asks again this often.
    POLL_SECONDS = 0.05

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 1, tzinfo=timezone.utc)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, seconds: float = 0, **kwargs: float) -> datetime:
        with self._lock:
            self._now += timedelta(seconds=seconds, **kwargs)
            return self._now

    def set(self, moment: datetime) -> None:
        with self._lock:
            self._now = moment

    def sleep_step(self, seconds: float) -> float:
        return min(seconds, self.POLL_SECONDS)


_clock: Clock = SystemClock()


def get_clock() -> Clock:
    return _clock


def set_clock(clock: Clock) -> None:
    global _clock
    _clock = clock


def now() -> datetime:
    return _clock.now()


def timestamp() -> float:
    """Now, in seconds since the epoch (JWT claims, Unix-time headers)."""
    return _clock.now().timestamp()


def now_ms() -> int:
    """Now, in milliseconds since the epoch (ids)."""
    return int(_clock.now().timestamp() * 1000)


def to_ms(moment: datetime | None) -> int | None:
    return None if moment is None else int(moment.timestamp() * 1000)


def from_ms(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=timezone.utc)
