"""A task result names the process that ran it, also in a child forked after the import."""

from __future__ import annotations

import os

from django_qstash.tasks_backend.answers import worker_id


def test_a_child_forked_after_the_import_names_itself():
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: report what it would record, then leave at once
        os.write(write, worker_id().encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    reported = os.read(read, 200).decode()
    os.close(read)
    assert reported.endswith(f":{pid}")
    assert worker_id().endswith(f":{os.getpid()}")
