"""Benchmark suite for django_qstash: run it with `python benchmarks/run_all.py`."""
