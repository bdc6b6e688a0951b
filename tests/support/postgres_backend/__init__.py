"""PostgreSQL for the test suite's PostgreSQL pass (see base.py)."""
