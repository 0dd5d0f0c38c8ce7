"""Benchmarks of the sidecar: `python -m bench.run` (or `make bench`) prints a report and writes build/bench.json.

They measure and never pass or fail on a number; the runner exits non-zero only when something functionally
breaks (a sidecar that does not start, a venue that never converges).
"""
