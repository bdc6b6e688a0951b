"""The delivery engine: accepting, scheduling and finishing messages."""
