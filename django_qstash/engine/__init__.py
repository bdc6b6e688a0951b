"""The engine: publishing, claiming, the message state machine, dispatching, schedules, flow control, DLQ, retention."""
