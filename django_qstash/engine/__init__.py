"""The engine: publishing, claiming, dispatching, the message lifecycle and its bookkeeping."""
