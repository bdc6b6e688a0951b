"""The engine: publishing, claiming, dispatching, schedules, flow control, outcomes, DLQ, retention."""
