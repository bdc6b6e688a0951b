"""What the server stored for a workflow run, in bytes: its run row, its steps, its messages."""

from __future__ import annotations

from dataclasses import dataclass

# The same SQL on SQLite and PostgreSQL: length() of a blob / bytea counts bytes.
RUN = """select id, length(initial_body) + coalesce(length(result), 0)
                + length(cast(config as text))
         from django_qstash_workflowrun where run_id = %s"""
STEPS = """select count(*), coalesce(sum(length(body)), 0)
           from django_qstash_workflowstep where run_id = %s"""
MESSAGES = """select count(*), coalesce(sum(length(body)), 0),
                     coalesce(sum(length(cast(headers as text))), 0), coalesce(max(length(body)), 0)
              from django_qstash_message where workflow_run_id = %s"""


@dataclass
class Stored:
    run_bytes: int
    steps: int
    step_bytes: int
    messages: int
    message_body_bytes: int
    message_header_bytes: int
    largest_delivery: int

    def total(self) -> int:
        return (self.run_bytes + self.step_bytes + self.message_body_bytes
                + self.message_header_bytes)

    def summary(self) -> str:
        return (f"{self.total()} B: {self.steps} step rows ({self.step_bytes} B), "
                f"{self.messages} messages (bodies {self.message_body_bytes} B, largest "
                f"{self.largest_delivery} B; headers {self.message_header_bytes} B), run row "
                f"{self.run_bytes} B")


def stored(cursor, run_id: str) -> Stored:
    """``cursor``: a DB-API cursor on the server's database (Django's or psycopg's)."""
    cursor.execute(RUN, [run_id])
    pk, run_bytes = cursor.fetchone()
    cursor.execute(STEPS, [pk])
    steps, step_bytes = cursor.fetchone()
    cursor.execute(MESSAGES, [run_id])
    messages, body_bytes, header_bytes, largest = cursor.fetchone()
    return Stored(int(run_bytes), int(steps), int(step_bytes), int(messages), int(body_bytes),
                  int(header_bytes), int(largest))
