"""Benchmarks here are scripts run by hand (``python -m tests.bench.<name>``), never collected."""

collect_ignore_glob = ["*.py"]
