"""Upstash Workflow runs: triggers, appended steps, callbacks, history, ending and logs."""
