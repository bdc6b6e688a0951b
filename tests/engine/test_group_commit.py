"""Group commit: callers share one write, each returns after its own rows are stored."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, OperationalError

from django_qstash.db.group_commit import MAX_ROWS, GroupCommit


class RecordingWrite:
    """A write function that records its calls; the first call waits until released."""

    def __init__(self, fail_when=None, error=IntegrityError("duplicate key")):
        self.calls: list[list] = []
        self.first_started = threading.Event()
        self.release = threading.Event()
        self.fail_when, self.error = fail_when, error

    def __call__(self, groups):
        rows = [obj for _, objs in groups for obj in objs]
        self.calls.append(rows)
        if len(self.calls) == 1:
            self.first_started.set()
            assert self.release.wait(5)
        if self.fail_when and self.fail_when(rows):
            raise self.error


def run_callers(committer, payloads):
    results: dict[str, object] = {}

    def call(payload):
        try:
            committer.submit([(object, [payload])])
            results[payload] = "ok"
        except Exception as exc:
            results[payload] = exc

    threads = [threading.Thread(target=call, args=(p,)) for p in payloads]
    return threads, results


def queue_behind_a_running_write(write, payloads):
    """A first caller's write is held while ``payloads`` queue behind it, then released.
    Returns the first caller's results and the others', once every caller has returned."""
    committer = GroupCommit(write)
    first, first_results = run_callers(committer, ["first"])
    first[0].start()
    assert write.first_started.wait(5)
    others, results = run_callers(committer, payloads)
    for thread in others:
        thread.start()
    while len(committer.queue) < len(payloads):  # all of them queued behind the running write
        threading.Event().wait(0.005)
    write.release.set()
    for thread in [*first, *others]:
        thread.join(5)
    return first_results, results


def test_callers_arriving_during_a_write_share_the_next_one():
    write = RecordingWrite()
    results, more = queue_behind_a_running_write(write, [f"m{i}" for i in range(8)])
    assert write.calls[0] == ["first"]
    assert sorted(write.calls[1]) == sorted(f"m{i}" for i in range(8))
    assert len(write.calls) == 2
    assert set({**results, **more}.values()) == {"ok"}


def test_a_caller_alone_writes_at_once():
    calls = []
    committer = GroupCommit(lambda groups: calls.append(groups))
    committer.submit([(object, ["solo"])])
    assert calls == [[(object, ["solo"])]]
    assert not committer.busy and not committer.queue


def test_one_bad_caller_does_not_fail_the_others():
    write = RecordingWrite(fail_when=lambda rows: "bad" in rows)
    _, more = queue_behind_a_running_write(write, ["a", "bad", "b"])
    assert more["a"] == "ok" and more["b"] == "ok"
    assert isinstance(more["bad"], IntegrityError)
    # The shared write failed, then each caller's rows were written on their own.
    assert ["a"] in write.calls and ["b"] in write.calls


def test_an_unreachable_database_fails_everyone_in_the_batch():
    write = RecordingWrite(fail_when=lambda rows: len(rows) > 1,
                           error=OperationalError("server closed the connection"))
    _, more = queue_behind_a_running_write(write, ["a", "b"])
    assert all(isinstance(more[p], OperationalError) for p in ("a", "b"))
    assert len(write.calls) == 2  # no retry one by one against a database that is gone


def test_a_huge_write_goes_alone():
    calls = []
    committer = GroupCommit(lambda groups: calls.append(len(groups[0][1])))
    committer.submit([(object, list(range(MAX_ROWS + 1)))])
    assert calls == [MAX_ROWS + 1]


def test_errors_of_a_lone_caller_reach_it():
    def fail(groups):
        raise IntegrityError("nope")
    with pytest.raises(IntegrityError):
        GroupCommit(fail).submit([(object, ["x"])])


def test_any_exception_in_a_shared_write_fails_only_its_culprit_and_wakes_everyone():
    # Not a database error: e.g. a value the driver cannot encode.
    write = RecordingWrite(fail_when=lambda rows: "bad" in rows,
                           error=UnicodeEncodeError("utf-8", "\ud800", 0, 1, "surrogate"))
    first, more = queue_behind_a_running_write(write, ["a", "bad", "b"])
    assert first["first"] == "ok" and more["a"] == "ok" and more["b"] == "ok"
    assert isinstance(more["bad"], UnicodeEncodeError)


def test_the_writer_stays_usable_after_a_failed_leader():
    calls = []

    def write(groups):
        rows = [obj for _, objs in groups for obj in objs]
        if "bad" in rows:
            raise ValueError("cannot store this")
        calls.append(rows)

    committer = GroupCommit(write)
    with pytest.raises(ValueError):
        committer.submit([(object, ["bad"])])
    assert not committer.busy and not committer.queue
    done = threading.Event()
    threading.Thread(target=lambda: (committer.submit([(object, ["next"])]), done.set())).start()
    assert done.wait(5), "a publish after a failed write hung"
    assert calls == [["next"]]


def test_a_waiter_whose_write_never_starts_gives_up_after_its_timeout():
    write = RecordingWrite()
    committer = GroupCommit(write, wait_seconds=0.2)
    first, _ = run_callers(committer, ["first"])
    first[0].start()
    assert write.first_started.wait(5)
    others, results = run_callers(committer, ["late"])
    others[0].start()
    others[0].join(5)
    assert not others[0].is_alive(), "a queued caller waited forever behind a stuck write"
    assert isinstance(results["late"], TimeoutError)
    assert committer.queue == []  # withdrawn: its rows will never be written
    write.release.set()
    first[0].join(5)
    assert write.calls == [["first"]] and not committer.busy
