"""The engine: how messages are claimed, sent, and move from one state to the next."""
